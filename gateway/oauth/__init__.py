"""The OAuth 2.0 authorization server (FAPI 2.0 security profile)."""
