"""The web console: server-rendered pages over the Proton API, as the signed-in credential sees it.

Invariants: every page reads through `Dispatcher.invoke` as the session's account and region (never other
accounts' rows); every POST carries the session's CSRF token; templates autoescape.
"""
