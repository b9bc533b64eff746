# SPDX-License-Identifier: Apache-2.0
"""Helpers of the Python binding's broker tests: the target's name server,
topics made with tests/broker/harness, and the Java peer as the checker.

Environment (set by meson): RMQ_IT_TARGET, RMQ_SOURCE_ROOT, RMQ_LIB;
RMQ_RUN_ROOT (default /tmp/librmq-run); RMQ_REQUIRE_BROKER=1 turns a missing
target into a failure instead of a skip (exit 77).
"""
import json
import signal
import os
import subprocess
import sys
import time

SRC = os.environ.get('RMQ_SOURCE_ROOT') or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TARGET = os.environ.get('RMQ_IT_TARGET', 'single-4')
RUN_ROOT = os.environ.get('RMQ_RUN_ROOT', '/tmp/librmq-run')
PYDIR = os.path.join(SRC, 'examples', 'python')
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)


def target_env():
    """The target's env file as a dict; exits 77 (skip) or 1 when it is not running."""
    path = os.path.join(RUN_ROOT, TARGET, 'env')
    if not os.path.isfile(path):
        if os.environ.get('RMQ_REQUIRE_BROKER') == '1':
            print('FAIL: %s not running' % TARGET)
            sys.exit(1)
        print('SKIP: %s not running' % TARGET)
        sys.exit(77)
    env = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition('=')
            if k:
                env[k] = v
    return env


ENV = target_env()
NAMESRV = ENV['RMQ_NAMESRV']
PEER_MAJOR = '5' if ENV.get('RMQ_VERSION', '4').startswith('5') else '4'


def unique(prefix):
    return '%s_%s_%d_%d' % (prefix, TARGET.replace('-', '_'), os.getpid(), int(time.time() * 1000) % 100000000)


def make_topic(prefix, queues=4):
    topic = unique(prefix)
    p = subprocess.run([os.path.join(SRC, 'tests', 'broker', 'harness'), 'topic', TARGET, topic, '--queues',
                        str(queues)], env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise AssertionError('harness topic %s failed: %s' % (topic, p.stdout))
    return topic


def tool_env(**extra):
    """The environment for the harness and the Java peer (shell scripts, a
    JVM): without the sanitizer runtime that a sanitized build preloads
    into the interpreter (TSan's crashes bash at once)."""
    env = {k: v for k, v in os.environ.items() if k != 'LD_PRELOAD'}
    env.update(extra)
    return env


def peer(args, stdin=None, timeout=120):
    """Runs the Java peer; returns (exit status, [JSON lines])."""
    env = tool_env(RMQ_NAMESRV=NAMESRV)
    p = subprocess.run([os.path.join(SRC, 'tests', 'interop', 'peer'), '--version', PEER_MAJOR] + args,
                       input=stdin, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    docs = [json.loads(line) for line in p.stdout.splitlines() if line.startswith('{')]
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-2000:])
    return p.returncode, docs


def peer_consume(topic, count, extra=()):
    """The Java pull consumer, a new group, from the first offset, until
    `count` messages and 2 s without another (so extra ones show)."""
    for attempt in range(3):
        st, docs = peer(['consume', '--mode', 'pull', '--group', unique('py_g'), '--topic', topic, '--count',
                         str(count), '--quiet-ms', '2000', '--timeout-ms', '60000', '--from', 'first'] +
                        list(extra))
        # a start that failed (a name-server call timed out under CI's
        # load: nothing but the fatal error printed) read nothing: again,
        # three times at most, with a new group
        if not (st == 2 and all(d.get('fatal') for d in docs)):
            break
        sys.stderr.write('peer consume: start failed, attempt %d\n' % (attempt + 2))
    msgs = [d for d in docs if 'summary' not in d]
    if st != 0:
        raise AssertionError('peer consume exited %d with %d messages: %r' % (st, len(msgs), msgs))
    return msgs


def peer_produce(topic, lines, group=None):
    spec = ''.join(json.dumps(line) + '\n' for line in lines)
    st, docs = peer(['produce', '--group', group or unique('py_pg'), '--topic', topic, '--spec', '-'], stdin=spec)
    if st != 0:
        raise AssertionError('peer produce exited %d: %r' % (st, docs))
    return docs


def ctrl_c(proc, timeout):
    """Sends SIGINT (Ctrl-C) to proc; returns (the rest of its stdout, then
    its stderr if piped apart; seconds until it exited). Kills it if it is
    still running after timeout."""
    t0 = time.monotonic()
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
        return out + (err or ''), time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
