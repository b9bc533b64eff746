# SPDX-License-Identifier: Apache-2.0
"""Runs one of the user's example scripts (examples/python/rocketmq_*.py)
against the broker target and checks what it did with the Java peer.

    test_examples.py normal|ordered|transaction|delay|batch
"""
import os
import re
import subprocess
import sys
import time
from collections import Counter

import rmqtest
from rmqtest import peer_consume


def run_script(name, topic, timeout=60):
    env = dict(os.environ, NAMESRV_ADDR=rmqtest.NAMESRV, TOPIC=topic,
               PYTHONPATH=rmqtest.PYDIR + os.pathsep + os.environ.get('PYTHONPATH', ''))
    p = subprocess.run([sys.executable, os.path.join(rmqtest.PYDIR, 'rocketmq_%s.py' % name)], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    print(p.stdout)
    sys.stderr.write(p.stderr)
    assert p.returncode == 0, 'exit %d' % p.returncode
    return p.stdout


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def test_normal():
    topic = rmqtest.make_topic('py_normal')
    out = run_script('normal', topic)
    sync = re.findall(r'^Send result: SendStatus\.OK, Message ID: ([0-9A-F]{32})$', out, re.M)
    asyn = re.findall(r'^Send success: ([0-9A-F]{32})$', out, re.M)
    check(len(sync) == 1 and len(asyn) == 1, 'want one sync and one async success line')
    check('Send failed' not in out, 'an async send failed')
    msgs = peer_consume(topic, 3)
    by_body = {m['bodyText']: m for m in msgs}
    check(len(msgs) == 3 and sorted(by_body) == ['Async message', 'Hello RocketMQ', 'Oneway message'],
          'Java consumed %r' % [m['bodyText'] for m in msgs])
    check(by_body['Hello RocketMQ']['msgId'] == sync[0], 'sync id differs from what Java read')
    check(by_body['Async message']['msgId'] == asyn[0], 'async id differs from what Java read')


def test_ordered():
    topic = rmqtest.make_topic('py_ordered', queues=4)
    env = dict(os.environ, NAMESRV_ADDR=rmqtest.NAMESRV, TOPIC=topic, PYTHONUNBUFFERED='1',
               PYTHONPATH=rmqtest.PYDIR + os.pathsep + os.environ.get('PYTHONPATH', ''))
    p = subprocess.Popen([sys.executable, os.path.join(rmqtest.PYDIR, 'rocketmq_ordered.py')], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, received = [], []
    deadline = time.monotonic() + 60
    try:
        # The consumer keeps running after the script's last line (as a Java
        # consumer does) until Ctrl-C: read until the ten messages came.
        while len(received) < 10 and time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.match(r'^Received: (Order ORDER_\d - Step \d)$', line.rstrip('\n'))
            if m:
                received.append(m.group(1))
        check(len(received) == 10, 'received %d of 10 within 60 s' % len(received))
        check(p.poll() is None, 'the consumer script exited by itself')
        rest, took = rmqtest.ctrl_c(p, 15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out = ''.join(lines) + rest
    print(out)
    check(p.returncode == 0, 'exit %d after Ctrl-C' % p.returncode)
    check(took < 10, 'Ctrl-C took %.1f s' % took)
    check('Traceback' not in out, 'a traceback was printed')
    sent = re.findall(r'^Sent: ([0-9A-F]{32})$', out, re.M)
    check(len(sent) == 10, 'want 10 Sent lines')
    check(sorted(received) == sorted('Order ORDER_%d - Step %d' % (i % 3, i) for i in range(10)),
          'received %r' % received)
    for o in range(3):  # each order's steps in the order they were sent
        steps = [int(r.rsplit(' ', 1)[1]) for r in received if r.startswith('Order ORDER_%d ' % o)]
        check(steps == list(range(o, 10, 3)), 'ORDER_%d steps %r' % (o, steps))
    msgs = peer_consume(topic, 10)
    check(sorted(m['msgId'] for m in msgs) == sorted(sent), 'Java read other ids than were sent')
    for o in range(3):  # one queue per order, with the key set
        mine = [m for m in msgs if m['keys'] == 'ORDER_%d' % o]
        check(len(mine) == len(range(o, 10, 3)) and len({m['queueId'] for m in mine}) == 1,
              'ORDER_%d spread over queues %r' % (o, sorted({m['queueId'] for m in mine})))


def test_transaction():
    topic = rmqtest.make_topic('py_tx')
    out = run_script('transaction', topic)
    check(out.count('Executing local transaction for: Transaction message\n') == 1, 'local transaction ran once')
    check('Transaction send result: SendStatus.OK\n' in out, 'no OK result')
    msgs = peer_consume(topic, 1)
    check(len(msgs) == 1 and msgs[0]['bodyText'] == 'Transaction message', 'Java read %r' % msgs)
    check(msgs[0]['props'].get('TRAN_MSG') == 'true', 'not a committed transactional message')


def test_delay():
    topic = rmqtest.make_topic('py_delay')
    out = run_script('delay', topic)
    ids = re.findall(r'^Delayed message sent: ([0-9A-F]{32})$', out, re.M)
    check(len(ids) == 1, 'no id printed')
    msgs = peer_consume(topic, 1)
    check(len(msgs) == 1 and msgs[0]['msgId'] == ids[0] and msgs[0]['bodyText'] == 'Delayed message',
          'Java read %r' % msgs)
    m = msgs[0]
    check(m['delayLevel'] == 3, 'delay level %r' % m['delayLevel'])
    # level 3 is 10 s: the broker stores it in the topic 10 s after it came
    waited = m['storeTimestamp'] - m['bornTimestamp']
    check(9000 <= waited < 30000, 'stored %d ms after it was born' % waited)


def test_batch():
    topic = rmqtest.make_topic('py_batch')
    out = run_script('batch', topic)
    check('Batch send result: SendStatus.OK\n' in out, 'no OK result')
    msgs = peer_consume(topic, 10)
    check(sorted(m['bodyText'] for m in msgs) == sorted('Batch message %d' % i for i in range(10)),
          'Java read %r' % [m['bodyText'] for m in msgs])
    check(len({m['queueId'] for m in msgs}) == 1, 'a batch goes to one queue')
    offs = sorted((m['queueOffset'], m['bodyText']) for m in msgs)
    check([b for _, b in offs] == ['Batch message %d' % i for i in range(10)], 'batch order %r' % offs)
    check([o for o, _ in offs] == list(range(offs[0][0], offs[0][0] + 10)), 'offsets not consecutive')
    check(Counter(m['msgId'] for m in msgs).most_common(1)[0][1] == 1, 'ids not unique')


if __name__ == '__main__':
    globals()['test_' + sys.argv[1]]()
    print('PASS %s on %s' % (sys.argv[1], rmqtest.TARGET))
