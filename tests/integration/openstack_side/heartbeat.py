"""Send an amphora's signed UDP heartbeat, as the amphora agent does, until stopped.

Input (JSON on stdin): host, port, key, interval, message (the health message without `seq`).
The envelope is Octavia's own (status_message.wrap_envelope), so the health manager accepts it
exactly as it accepts a real amphora's.
"""

import json
import socket
import sys
import time

from octavia.amphorae.backends.health_daemon import status_message


def main() -> None:
    spec = json.load(sys.stdin)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        seq = 0
        while True:
            seq += 1
            message = dict(spec["message"], seq=seq)
            sock.sendto(status_message.wrap_envelope(message, spec["key"]),
                        (spec["host"], spec["port"]))
            time.sleep(spec["interval"])


if __name__ == "__main__":
    main()
