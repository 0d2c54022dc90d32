// What the page gives the app's modules besides the DOM: LHC-Forms' web component defines
// window.LForms (untyped: it ships no type declarations).
interface Window {
  LForms?: any;
}
