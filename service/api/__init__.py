"""The HTTP surface: one thin router per concern (parse, call one domain function, shape the
answer). Routers import the runtime and the domain packages; nothing imports a router but the
app."""
