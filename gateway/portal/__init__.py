"""The developer portal and the API description."""
