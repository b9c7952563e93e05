"""Exit 0 once a queue on the broker has a consumer (the worker listens), 1 at the deadline.

Usage: amqp_consumers.py <amqp url> <queue> <seconds>. Declares nothing (passive).
"""

import sys
import time

import kombu


def consumers(url: str, queue: str) -> int:
    with kombu.Connection(url, connect_timeout=2) as connection:
        channel = connection.channel()
        try:
            return int(channel.queue_declare(queue=queue, passive=True).consumer_count)
        finally:
            channel.close()


def main() -> None:
    url, queue, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if consumers(url, queue) > 0:
                return
        except Exception:  # not declared yet, broker not up yet
            pass
        time.sleep(0.2)
    sys.exit(1)


if __name__ == "__main__":
    main()
