"""The ASGI application: the Proton API on `POST /`, health, and (later) the console."""
