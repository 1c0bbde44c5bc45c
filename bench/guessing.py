#!/usr/bin/env python3
"""Password guessing against a running engine, as an attacker on loopback would try it.

Starts the engine (BENCH_ENGINE, default target/release/centralino) on the shipped configuration
with a fresh data directory, then:
  - HTTP: GUESSES wrong Basic passwords for mrossi over 16 keep-alive connections, then the right
    one: how many were checked (401) or refused unchecked (429), and how long it took;
  - SIP: one challenge for gbianchi, then GUESSES REGISTERs with that nonce and counts 1..GUESSES, sent at
    about 1 000 a second, the right password at the middle one: how many were checked (403
    without Retry-After), and whether any got 200 (a binding).
Bounded: GUESSES (default 2000) requests each; the SIP answers are awaited 30 s at most.

    BENCH_ENGINE=path/to/centralino bench/guessing.py [GUESSES]
"""

import base64, hashlib, http.client, json, os, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE = os.environ.get("BENCH_ENGINE", os.path.join(ROOT, "target/release/centralino"))
GUESSES = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def start_engine(data):
    p = subprocess.Popen(
        [ENGINE, "serve", "--sip-udp", "127.0.0.1:0", "--sip-tcp", "127.0.0.1:0", "--http", "127.0.0.1:0",
         "--rtp-ports", "46000-46199", "--data-dir", data, "--log-format", "json"],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    for line in p.stderr:
        try:
            f = json.loads(line)["fields"]
        except (ValueError, KeyError):
            continue
        if f.get("message") == "switchboard ready":
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            host, port = f["udp"].rsplit(":", 1)
            return p, (host, int(port)), f["http"]
        if time.time() > deadline:
            break
    p.kill()
    sys.exit("the engine did not start")


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def http_guesses(addr):
    statuses = []
    lock = threading.Lock()

    def worker(w, n):
        c = http.client.HTTPConnection(addr, timeout=30)
        for i in range(n):
            c.request("GET", "/api/session", headers=basic("mrossi", f"guess-{w}-{i}"))
            r = c.getresponse()
            r.read()
            with lock:
                statuses.append(r.status)

    started = time.time()
    threads = [threading.Thread(target=worker, args=(w, GUESSES // 16)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.time() - started
    c = http.client.HTTPConnection(addr, timeout=30)
    c.request("GET", "/api/session", headers=basic("mrossi", "demo-mrossi"))
    right = c.getresponse().status
    return statuses, took, right


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def sip_guesses(engine):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    local = "%s:%d" % s.getsockname()
    target = "%s:%d" % engine
    uri = f"sip:{target}"

    def register(cseq, auth=None):
        a = f"Authorization: {auth}\r\n" if auth else ""
        msg = (f"REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKg{cseq};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:gbianchi@{target}>;tag=g\r\nTo: <sip:gbianchi@{target}>\r\n"
               f"Call-ID: guess-{os.getpid()}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:gbianchi@{local}>;expires=600\r\n"
               f"{a}Content-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), engine)

    register(1)
    s.settimeout(5)
    challenge = ""
    while "WWW-Authenticate" not in challenge:
        challenge = s.recv(65535).decode(errors="replace")
    line = next(l for l in challenge.split("\r\n") if l.startswith("WWW-Authenticate"))
    realm = line.split('realm="')[1].split('"')[0]
    nonce = line.split('nonce="')[1].split('"')[0]
    alg = "SHA-256" if "SHA-256" in line else "MD5"
    h = sha if alg == "SHA-256" else md5
    answers = []

    def reader():
        # Until every REGISTER is answered or 30 s have passed (the old engine delayed answers
        # by up to 16 s each).
        s.settimeout(1)
        until = time.time() + 30
        finals = 0
        while finals < GUESSES and time.time() < until:
            try:
                a = s.recv(65535).decode(errors="replace")
            except socket.timeout:
                continue
            answers.append(a)
            finals += not a.startswith("SIP/2.0 1")

    t = threading.Thread(target=reader)
    t.start()
    started = time.time()
    for nc in range(1, GUESSES + 1):
        password = "demo-gbianchi" if nc == GUESSES // 2 else f"guess-{nc}"
        ha1, ha2 = h(f"gbianchi:{realm}:{password}"), h(f"REGISTER:{uri}")
        resp = h(f"{ha1}:{nonce}:{nc:08x}:c0ffee:auth:{ha2}")
        register(nc + 1, f'Digest username="gbianchi", realm="{realm}", nonce="{nonce}", uri="{uri}", '
                         f'response="{resp}", algorithm={alg}, qop=auth, cnonce="c0ffee", nc={nc:08x}')
        if nc % 100 == 0:
            time.sleep(max(0, started + nc / 1000 - time.time()))
    t.join()
    finals = [a for a in answers if a.startswith("SIP/2.0 ") and not a.startswith("SIP/2.0 1")]
    status = lambda a: int(a.split(" ")[1])
    checked = sum(1 for a in finals if status(a) == 403 and "Retry-After" not in a)
    return len(finals), checked, sum(1 for a in finals if status(a) == 200), time.time() - started


def main():
    with tempfile.TemporaryDirectory() as data:
        p, sip, addr = start_engine(data)
        try:
            statuses, took, right = http_guesses(addr)
            answered, checked, bound, sip_took = sip_guesses(sip)
        finally:
            p.terminate()
            p.wait()
    print(f"engine    {ENGINE}")
    print(f"http      {len(statuses)} wrong Basic passwords over 16 connections in {took:.2f} s: "
          f"{statuses.count(401)} checked (401), {statuses.count(429)} refused unchecked (429); "
          f"the right password afterwards: {right}")
    print(f"sip       {GUESSES} REGISTERs with one nonce in {sip_took:.1f} s: {answered} answered, "
          f"{checked} passwords checked (403), {bound} bindings (200) for the right password among them")


if __name__ == "__main__":
    main()
