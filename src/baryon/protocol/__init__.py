"""AWS JSON 1.0 wire protocol: codec, validation, errors, pagination tokens and SigV4 identity."""
