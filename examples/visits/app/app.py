"""Counts visits in PostgreSQL: each GET / adds a row and answers with the count."""
import os
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

DATABASE_URL = os.environ["DATABASE_URL"]


def connect():
    for attempt in range(30):
        try:
            return psycopg2.connect(DATABASE_URL, connect_timeout=3)
        except psycopg2.OperationalError as err:
            print(f"waiting for the database ({err.__class__.__name__})", flush=True)
            time.sleep(1)
    raise SystemExit("the database did not answer in 30 s")


conn = connect()
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute("CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            body = b"ok\n"
        else:
            with conn.cursor() as cur:
                cur.execute("INSERT INTO visits DEFAULT VALUES")
                cur.execute("SELECT count(*) FROM visits")
                (count,) = cur.fetchone()
            body = f"Hello from Gantry: visit {count}, counted in PostgreSQL, served by {socket.gethostname()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(f"{self.address_string()} {fmt % args}", flush=True)


print("app listening on :8000", flush=True)
ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
