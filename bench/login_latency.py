#!/usr/bin/env python3
"""Measure berth's login-to-ready and logout latency against the raw Engine API.

berth path: POST /login through nginx, then GET the workspace URL from the
response. berth responds only once the container serves HTTP, so that GET
must succeed at once. Logout is POST /logout with the session cookie.

Raw path, the floor berth is compared with: create and start a container over
the Docker socket with the image, limits and port of a container that berth
started, poll its published port until it returns 200, then DELETE it with
force=true&v=true. Raw containers carry io.berth.managed=true and
io.berth.pool=bench-raw; any left from an earlier run are removed at the
start and at the end.

Both paths run in the same process. The sequential phase alternates which
path goes first; the parallel phase runs berth's batch, then the raw one.
Prints a markdown table. Exits 1 when any login, readiness check or logout
failed; missed targets are reported in the table but do not change the
exit status.
"""

import argparse
import concurrent.futures
import http.client
import json
import math
import os
import platform
import socket
import statistics
import sys
import threading
import time
import urllib.parse

RAW_POOL = "bench-raw"
MANAGED_LABEL = "io.berth.managed"
POOL_LABEL = "io.berth.pool"
USER_LABEL = "io.berth.user"
NEWEST_API_VERSION = (1, 43)  # the newest Engine API version berth was written for
TARGET_LOGIN_RATIO = 1.05  # berth login-to-ready p50 over raw p50


class BenchError(Exception):
    """One failed operation: a login, a readiness check, a logout or an Engine API call."""


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket, for the Docker Engine API."""

    def __init__(self, socket_path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class Engine:
    """A minimal Docker Engine API client with one kept-alive connection per thread."""

    def __init__(self, socket_path, timeout=60.0):
        self.socket_path = socket_path
        self.timeout = timeout
        self.local = threading.local()
        self.prefix = ""
        self.prefix = "/v" + self.negotiate_version()

    def negotiate_version(self):
        connection = UnixHTTPConnection(self.socket_path, self.timeout)
        try:
            connection.request("GET", "/_ping")
            response = connection.getresponse()
            response.read()
            engine_version = response.getheader("Api-Version", "1.41")
        finally:
            connection.close()
        major, minor = (int(part) for part in engine_version.split(".")[:2])
        return "%d.%d" % min((major, minor), NEWEST_API_VERSION)

    def call(self, method, path, body=None, expected=(200, 201, 204)):
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}

        # A kept-alive connection that the engine closed fails on first use;
        # the second attempt opens a new one.
        for attempt in (1, 2):
            connection = getattr(self.local, "connection", None)
            if connection is None:
                connection = UnixHTTPConnection(self.socket_path, self.timeout)
                self.local.connection = connection
            try:
                connection.request(method, self.prefix + path, body=payload, headers=headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, ConnectionError) as error:
                connection.close()
                self.local.connection = None
                if attempt == 2:
                    raise BenchError("%s %s: %s" % (method, path, error)) from error

        if response.status not in expected:
            raise BenchError("%s %s: HTTP %d %s" % (method, path, response.status, data[:300].decode(errors="replace")))
        if data and response.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(data)
        return None

    def list_pool(self, pool):
        filters = json.dumps({"label": ["%s=true" % MANAGED_LABEL, "%s=%s" % (POOL_LABEL, pool)]})
        return self.call("GET", "/containers/json?all=true&filters=" + urllib.parse.quote(filters))

    def remove(self, container_id):
        # 404: already gone; 409: removal already in progress.
        self.call("DELETE", "/containers/%s?force=true&v=true" % container_id, expected=(204, 404, 409))


def http_ready(host, port, timeout=1.0):
    """Return True when GET / on host:port returns 200."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def wait_ready(host, port, timeout, poll_interval):
    deadline = time.monotonic() + timeout
    while not http_ready(host, port):
        if time.monotonic() > deadline:
            raise BenchError("http://%s:%d/ did not return 200 within %.0f s" % (host, port, timeout))
        time.sleep(poll_interval)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Berth:
    """berth's HTTP front, reached through nginx at base_url."""

    def __init__(self, base_url, timeout):
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise SystemExit("invalid --base-url %r: give http://HOST:PORT" % base_url)
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.timeout = timeout

    def post(self, path, body=None, cookie=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if cookie:
            headers["Cookie"] = cookie
        try:
            connection.request("POST", path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise BenchError("POST %s: %s" % (path, error)) from error
        finally:
            connection.close()
        return response, data

    def login(self, user, password):
        """Log in; return (cookie, workspace host, workspace port, container id)."""
        response, data = self.post("/login", {"user": user, "password": password})
        if response.status != 200:
            raise BenchError("login of %s: HTTP %d %s" % (user, response.status, data[:300].decode(errors="replace")))
        session = json.loads(data)
        cookies = [header.split(";", 1)[0].strip() for header in response.headers.get_all("Set-Cookie") or []]
        if not cookies:
            raise BenchError("login of %s: the response sets no cookie" % user)

        # The url field names the host that publishes the workspace, and the
        # port field gives its port.
        workspace_host = urllib.parse.urlsplit(session.get("url", "")).hostname or self.host
        return "; ".join(cookies), workspace_host, int(session["port"]), session.get("container", "")

    def logout(self, user, cookie):
        response, data = self.post("/logout", cookie=cookie)
        if response.status not in (200, 204):
            raise BenchError("logout of %s: HTTP %d %s" % (user, response.status, data[:300].decode(errors="replace")))


class Bench:
    def __init__(self, args):
        self.args = args
        self.users = parse_users(args.users)
        self.berth = Berth(args.base_url, args.http_timeout)
        self.engine = Engine(args.docker_socket)
        self.sessions = {}  # user -> cookie, for logging out whatever a failure left behind
        self.raw_containers = set()
        self.lock = threading.Lock()
        self.failures = []
        self.late_ready = 0  # berth logins whose workspace did not return 200 right after the login response
        self.spec = None
        self.spec_source = ""

    # ---- berth path

    def berth_login(self, user, password):
        started = time.perf_counter()
        cookie, host, port, container = self.berth.login(user, password)
        with self.lock:
            self.sessions[user] = cookie
        if not http_ready(host, port):
            with self.lock:
                self.late_ready += 1
            wait_ready(host, port, self.args.ready_timeout, self.args.poll_interval)
        return time.perf_counter() - started, container

    def berth_logout(self, user):
        with self.lock:
            cookie = self.sessions.pop(user)
        started = time.perf_counter()
        self.berth.logout(user, cookie)
        return time.perf_counter() - started

    # ---- raw path

    def raw_body(self, user, port):
        body = json.loads(json.dumps(self.spec))
        body["Labels"] = {MANAGED_LABEL: "true", POOL_LABEL: RAW_POOL, USER_LABEL: user}
        container_port = self.spec["container_port"]
        body.pop("container_port")
        body["HostConfig"]["PortBindings"] = {container_port: [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
        return body

    def raw_login(self, user):
        """Create, start and wait for a container; return (seconds, container id)."""
        port = free_port()
        started = time.perf_counter()
        created = self.engine.call("POST", "/containers/create", self.raw_body(user, port), expected=(201,))
        container_id = created["Id"]
        with self.lock:
            self.raw_containers.add(container_id)
        self.engine.call("POST", "/containers/%s/start" % container_id, expected=(204, 304))
        wait_ready("127.0.0.1", port, self.args.ready_timeout, self.args.poll_interval)
        return time.perf_counter() - started, container_id

    def raw_logout(self, container_id):
        started = time.perf_counter()
        self.engine.remove(container_id)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.raw_containers.discard(container_id)
        return elapsed

    # ---- container spec copied from berth

    def copy_spec(self, container_id):
        """Take image, limits and port from the container berth started, so both paths start the same thing."""
        args = self.args
        fallback = {
            "Image": args.image,
            "ExposedPorts": {"%d/tcp" % args.container_port: {}},
            "HostConfig": {
                "Memory": args.memory_mib * 1024 * 1024,
                "NanoCpus": int(args.cpus * 1e9),
                "PidsLimit": args.pids_limit,
                "RestartPolicy": {"Name": "no"},
            },
            "container_port": "%d/tcp" % args.container_port,
        }
        if not container_id:
            self.spec, self.spec_source = fallback, "command-line defaults (berth's login response named no container)"
            return
        try:
            inspected = self.engine.call("GET", "/containers/%s/json" % container_id)
        except BenchError as error:
            self.spec, self.spec_source = fallback, "command-line defaults (inspecting berth's container failed: %s)" % error
            return

        config, host_config = inspected["Config"], inspected["HostConfig"]
        copied_host_config = {"RestartPolicy": {"Name": "no"}}
        for key in ("Memory", "MemorySwap", "NanoCpus", "CpuQuota", "CpuPeriod", "PidsLimit", "CapAdd", "CapDrop",
                    "SecurityOpt", "ReadonlyRootfs", "Tmpfs", "Init", "NetworkMode"):
            if host_config.get(key) not in (None, 0, "", [], {}):
                copied_host_config[key] = host_config[key]
        bindings = host_config.get("PortBindings") or {}
        container_port = next(iter(bindings), fallback["container_port"])
        self.spec = {
            "Image": config["Image"],
            "Env": config.get("Env") or [],
            "ExposedPorts": {container_port: {}},
            "HostConfig": copied_host_config,
            "container_port": container_port,
        }
        self.spec_source = "berth's container %s" % container_id[:12]

    # ---- phases

    def record_failure(self, phase, error):
        with self.lock:
            self.failures.append("%s: %s" % (phase, error))

    def warm_up(self):
        user, password = self.users[0]
        _, container_id = self.berth_login(user, password)
        self.copy_spec(container_id)
        self.berth_logout(user)
        _, raw_id = self.raw_login(user)
        self.raw_logout(raw_id)

    def sequential_berth_round(self, index, user, password, results):
        try:
            seconds, _ = self.berth_login(user, password)
            results["berth_login"].append(seconds)
            results["berth_logout"].append(self.berth_logout(user))
        except BenchError as error:
            self.record_failure("sequential berth #%d" % index, error)

    def sequential_raw_round(self, index, user, password, results):
        try:
            seconds, container_id = self.raw_login(user)
            results["raw_login"].append(seconds)
            results["raw_logout"].append(self.raw_logout(container_id))
        except BenchError as error:
            self.record_failure("sequential raw #%d" % index, error)

    def sequential(self, count):
        results = {"berth_login": [], "berth_logout": [], "raw_login": [], "raw_logout": []}
        for index in range(count):
            user, password = self.users[index % len(self.users)]

            # Alternate which path goes first, so that neither one always
            # starts while the engine still finishes the other's removal.
            rounds = [self.sequential_berth_round, self.sequential_raw_round]
            if index % 2:
                rounds.reverse()
            for run_round in rounds:
                run_round(index, user, password, results)
        return results

    def parallel(self, count):
        """Start `count` logins at once per path, then `count` logouts at once."""
        users = self.users[:count]
        results = {}

        def run_all(function, items):
            barrier = threading.Barrier(len(items))

            def run_one(item):
                barrier.wait()
                return function(item)

            with concurrent.futures.ThreadPoolExecutor(max_workers=len(items)) as pool:
                futures = [pool.submit(run_one, item) for item in items]
                return [future.exception() or future.result() for future in futures]

        outcomes = run_all(lambda entry: self.berth_login(*entry), users)
        results["berth_login"] = [outcome[0] for outcome in outcomes if isinstance(outcome, tuple)]
        logged_in = [user for (user, _), outcome in zip(users, outcomes) if isinstance(outcome, tuple)]
        for (user, _), outcome in zip(users, outcomes):
            if isinstance(outcome, Exception):
                self.record_failure("parallel berth login of %s" % user, outcome)
        outcomes = run_all(self.berth_logout, logged_in) if logged_in else []
        results["berth_logout"] = [outcome for outcome in outcomes if isinstance(outcome, float)]
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                self.record_failure("parallel berth logout", outcome)

        outcomes = run_all(self.raw_login, [user for user, _ in users])
        results["raw_login"] = [outcome[0] for outcome in outcomes if isinstance(outcome, tuple)]
        started_ids = [outcome[1] for outcome in outcomes if isinstance(outcome, tuple)]
        for (user, _), outcome in zip(users, outcomes):
            if isinstance(outcome, Exception):
                self.record_failure("parallel raw start for %s" % user, outcome)
        outcomes = run_all(self.raw_logout, started_ids) if started_ids else []
        results["raw_logout"] = [outcome for outcome in outcomes if isinstance(outcome, float)]
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                self.record_failure("parallel raw remove", outcome)
        return results

    def clean_up(self):
        for user in list(self.sessions):
            try:
                self.berth_logout(user)
            except BenchError as error:
                print("login_latency: logout of %s during clean-up failed: %s" % (user, error), file=sys.stderr)
        try:
            leftovers = {container["Id"] for container in self.engine.list_pool(RAW_POOL)} | self.raw_containers
            for container_id in leftovers:
                self.engine.remove(container_id)
        except (BenchError, OSError) as error:
            print("login_latency: removing %s containers failed: %s; remove them with: "
                  "docker ps -aq --filter label=%s=%s | xargs -r docker rm -f -v"
                  % (RAW_POOL, error, POOL_LABEL, RAW_POOL), file=sys.stderr)


def parse_users(spec):
    users = []
    for index, entry in enumerate(spec.split(","), start=1):
        user, separator, password = entry.partition(":")
        if not separator or not user or not password:
            raise SystemExit("invalid user entry %d in --users: give user:password,user:password" % index)
        users.append((user, password))
    return users


def percentile(values, fraction):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def milliseconds(value):
    return "%.0f ms" % (value * 1000) if value is not None else "n/a"


def ratio(numerator, denominator):
    return "%.2f×" % (numerator / denominator) if numerator is not None and denominator else "n/a"


def summarize(values):
    if not values:
        return None, None
    return statistics.median(values), percentile(values, 0.95)


def report(bench, sequential_results, parallel_results, parallel_count):
    args = bench.args
    engine_version = bench.engine.call("GET", "/version")
    lines = [
        "## berth login latency vs. raw Engine API",
        "",
        "- date: %s; host: %s %s, %d CPUs; Docker Engine %s (API %s)" % (
            time.strftime("%Y-%m-%d %H:%M:%S %Z"), platform.system(), platform.release(), os.cpu_count(),
            engine_version.get("Version", "?"), bench.engine.prefix[2:]),
        "- berth: %s; raw: %s, readiness polled every %.0f ms" % (args.base_url, args.docker_socket, args.poll_interval * 1000),
        "- container spec (image %s, memory %s, NanoCpus %s, pids %s) copied from %s" % (
            bench.spec["Image"], bench.spec["HostConfig"].get("Memory", "unlimited"),
            bench.spec["HostConfig"].get("NanoCpus", "unlimited"), bench.spec["HostConfig"].get("PidsLimit", "unlimited"),
            bench.spec_source),
        "- login → ready ends at the first 200 from the workspace; logout ends when berth responds or DELETE returns",
        "",
        "| measurement | n (berth/raw) | berth p50 | berth p95 | raw p50 | raw p95 | berth/raw p50 | berth/raw p95 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [("login → ready, sequential", sequential_results, "login"),
            ("logout, sequential", sequential_results, "logout")]
    if parallel_results is not None:
        rows += [("login → ready, %d parallel" % parallel_count, parallel_results, "login"),
                 ("logout, %d parallel" % parallel_count, parallel_results, "logout")]
    for title, results, kind in rows:
        berth_values, raw_values = results["berth_" + kind], results["raw_" + kind]
        berth_p50, berth_p95 = summarize(berth_values)
        raw_p50, raw_p95 = summarize(raw_values)
        lines.append("| %s | %d/%d | %s | %s | %s | %s | %s | %s |" % (
            title, len(berth_values), len(raw_values), milliseconds(berth_p50), milliseconds(berth_p95),
            milliseconds(raw_p50), milliseconds(raw_p95), ratio(berth_p50, raw_p50), ratio(berth_p95, raw_p95)))

    berth_p50, _ = summarize(sequential_results["berth_login"])
    raw_p50, _ = summarize(sequential_results["raw_login"])
    lines.append("")
    if berth_p50 is not None and raw_p50:
        verdict = "met" if berth_p50 <= TARGET_LOGIN_RATIO * raw_p50 else "missed"
        lines.append("- target berth login → ready p50 ≤ %.2f× raw (sequential): %s (%s)" % (
            TARGET_LOGIN_RATIO, verdict, ratio(berth_p50, raw_p50)))
    if parallel_results is not None:
        succeeded = len(parallel_results["berth_login"])
        lines.append("- target %d/%d parallel berth logins succeed: %s (%d/%d; raw %d/%d)" % (
            parallel_count, parallel_count, "met" if succeeded == parallel_count else "missed",
            succeeded, parallel_count, len(parallel_results["raw_login"]), parallel_count))
    else:
        lines.append("- parallel phase skipped: it needs %d users, --users gives %d" % (parallel_count, len(bench.users)))
    lines.append("- berth logins whose workspace did not return 200 right after the login response: %d" % bench.late_ready)
    if bench.failures:
        lines.append("- failed operations (%d):" % len(bench.failures))
        lines.extend("  - %s" % failure for failure in bench.failures)
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8080", help="berth behind nginx (default: the demo's)")
    parser.add_argument("--users", default=os.environ.get("BERTH_BENCH_USERS", "alice:alice-pass,bob:bob-pass"),
                        help="user:password,... known to berth; the parallel phase needs --parallel of them "
                             "(default: $BERTH_BENCH_USERS, else the demo's users)")
    parser.add_argument("--docker-socket", default="/var/run/docker.sock", help="Docker Engine API socket")
    parser.add_argument("--sequential", type=int, default=20, help="sequential login/logout rounds per path (default 20)")
    parser.add_argument("--parallel", type=int, default=10, help="simultaneous logins per path (default 10)")
    parser.add_argument("--poll-interval", type=float, default=0.01, help="seconds between readiness polls (default 0.01)")
    parser.add_argument("--ready-timeout", type=float, default=30.0, help="seconds a container may take to serve HTTP (default 30)")
    parser.add_argument("--http-timeout", type=float, default=90.0, help="seconds one request to berth may take (default 90)")
    parser.add_argument("--image", default="berth/workspace:latest",
                        help="image for the raw path when berth's container cannot be inspected")
    parser.add_argument("--container-port", type=int, default=4200, help="fallback container port (default 4200)")
    parser.add_argument("--memory-mib", type=int, default=256, help="fallback memory limit in MiB (default 256)")
    parser.add_argument("--cpus", type=float, default=1.0, help="fallback CPU limit in CPUs (default 1.0)")
    parser.add_argument("--pids-limit", type=int, default=256, help="fallback process limit (default 256)")
    parser.add_argument("--output", help="also write the markdown report to this file")
    args = parser.parse_args()
    if args.sequential < 1 or args.parallel < 1:
        parser.error("--sequential and --parallel must be at least 1")

    bench = Bench(args)
    try:
        bench.clean_up()
        print("login_latency: warming up (one login and logout per path)", file=sys.stderr)
        bench.warm_up()
        print("login_latency: %d sequential rounds per path" % args.sequential, file=sys.stderr)
        sequential_results = bench.sequential(args.sequential)
        parallel_results = None
        if len(bench.users) >= args.parallel:
            print("login_latency: %d parallel logins per path" % args.parallel, file=sys.stderr)
            parallel_results = bench.parallel(args.parallel)
        text = report(bench, sequential_results, parallel_results, args.parallel)
    except BenchError as error:
        print("login_latency: %s" % error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("login_latency: interrupted; logging out and removing the containers it started", file=sys.stderr)
        return 130
    finally:
        bench.clean_up()

    print(text, end="")
    if args.output:
        with open(args.output, "w") as output:
            output.write(text)
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
