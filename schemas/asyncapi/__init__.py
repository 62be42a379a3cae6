"""The AsyncAPI 3.0 document of the broker's messages (`python -m schemas.asyncapi`)."""
