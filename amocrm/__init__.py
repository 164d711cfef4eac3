"""Everything that speaks amoCRM: OAuth 2.0 with rotating refresh tokens,
API v4 (paced under 7 requests a second, 429 retried with backoff), the
disposable tokens of widget calls, and the widget archive Hourbook builds.
What each rule rests on is in FACTS.md beside this file (sections cited as
§n); payloads copied from the docs are in examples/."""
