"""The reference relay of bench/relay_baseline.py: a stock Django Channels app, independent of
our project. Each socket of `/pair/<id>/<side>` joins group `pair.<id>` on the Redis pub/sub
channel layer and `group_send`s what it receives; the other side forwards it."""
