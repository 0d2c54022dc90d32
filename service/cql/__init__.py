"""The CQL bridge: evaluates ELM (from the official CQL-to-ELM translator) in-process, with a
FHIRPath engine doing the path work over the PatientRecord."""
