"""Doubles of the hosts Hourbook speaks to, for tests and the demo: real HTTP
servers that follow the documented shapes. Production code never imports them."""
