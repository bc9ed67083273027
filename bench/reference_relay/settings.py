"""Just enough Django for Channels: no database, no apps, one channel layer on Redis."""

import os

SECRET_KEY = "reference-relay-benchmark-only"  # noqa: S105 - signs nothing here

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")],
            "prefix": "bench-reference",
        },
    }
}
