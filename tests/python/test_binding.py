# SPDX-License-Identifier: Apache-2.0
"""The Python binding (examples/python/rocketmq) against the broker target,
with the Java peer on the other side. RMQ_TEST_CASE=name runs one case."""
import ctypes
import os
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import rmqtest
from rmqtest import peer_consume, peer_produce, unique

from rocketmq.client import (ConsumeStatus, Message, Producer, PushConsumer, SendStatus,
                             TransactionMQProducer, TransactionStatus)
from rocketmq.consts import MessageProperty
from rocketmq.exceptions import (InvalidArgument, ProducerSendSyncFailed, ProducerStartFailed,
                                 RocketMQException)
from rocketmq import ffi

NAMESRV = rmqtest.NAMESRV
POLLER = 'rocketmq-poll'


def java_hash(s):
    h = 0
    for c in s:
        h = (31 * h + ord(c)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def producer(group=None, cls=Producer, *args):
    p = cls(group or unique('py_pg'), *args)
    p.set_name_server_address(NAMESRV)
    return p


def consumer(**kw):
    c = PushConsumer(unique('py_cg'), **kw)
    c.set_name_server_address(NAMESRV)
    return c


class Collector(object):
    """A listener that records what it got, and on which thread."""

    def __init__(self, want, fail_first=()):
        self.lock = threading.Lock()
        self.msgs, self.threads, self.want = [], set(), want
        self.fail_first = set(fail_first)
        self.done = threading.Event()

    def __call__(self, msg):
        with self.lock:
            self.threads.add(threading.current_thread().name)
            if msg.body in self.fail_first:
                self.fail_first.discard(msg.body)
                return ConsumeStatus.RECONSUME_LATER
            self.msgs.append(msg)
            if len(self.msgs) >= self.want:
                self.done.set()
            return ConsumeStatus.CONSUME_SUCCESS


class Binding(unittest.TestCase):

    def test_struct_layout(self):
        # the ctypes structs against the C compiler's sizeof and offsetof
        exe = os.environ.get('RMQ_PY_LAYOUT')
        if not exe:
            self.skipTest('RMQ_PY_LAYOUT not set (meson sets it)')
        out = subprocess.run([exe], stdout=subprocess.PIPE, text=True, check=True).stdout
        ours = {'rmq_send_result_t': ffi.SendResultC, 'rmq_queue_t': ffi.QueueC,
                'rmq_consume_ctx_t': ffi.ConsumeCtxC}
        seen = set()
        for line in out.splitlines():
            name, size, *fields = line.split()
            cls = ours[name]
            seen.add(name)
            self.assertEqual(ctypes.sizeof(cls), int(size), name)
            c_fields = [f.split('=')[0] for f in fields]
            self.assertEqual(c_fields, [f[0] for f in cls._fields_], name)
            for f in fields:
                field, off = f.split('=')
                self.assertEqual(getattr(cls, field).offset, int(off), '%s.%s' % (name, field))
        self.assertEqual(seen, set(ours))

    def test_message_properties(self):
        topic = rmqtest.make_topic('py_props')
        body = b'\x00\xff binary \xe4\xb8\x96'
        p = producer()
        p.start()
        try:
            m = Message(topic)
            m.set_body(body)
            m.set_tags('TagA')
            m.set_keys('k1 k2')
            m.set_property('p1', 'v1')
            m.set_property('中文', '值')
            with self.assertRaises(InvalidArgument):
                m.set_property(MessageProperty.KEYS, 'x')  # reserved, as in Java
            r = p.send_sync(m)
        finally:
            p.shutdown()
        # Python -> Java
        (got,) = peer_consume(topic, 1)
        self.assertEqual(got['msgId'], r.msg_id)
        self.assertEqual(got['bodyHex'], body.hex())
        self.assertEqual((got['tags'], got['keys']), ('TagA', 'k1 k2'))
        self.assertEqual(got['userProps'], {'p1': 'v1', '中文': '值'})
        # Java -> Python: every field against what the Java producer reported
        sent = peer_produce(topic, [{'body': 'from java', 'tags': 'TagJ', 'keys': ['a', 'b'],
                                     'props': {'x': 'y'}}])
        c = consumer()
        col = Collector(2)
        c.subscribe(topic, col)  # the official signature: (topic, callback, expression='*')
        c.start()
        try:
            self.assertTrue(col.done.wait(60), 'got %d of 2' % len(col.msgs))
        finally:
            c.shutdown()
        self.assertEqual(col.threads, {POLLER})
        by_id = {m.id: m for m in col.msgs}
        self.assertEqual(sorted(by_id), sorted([r.msg_id, sent[0]['msgId']]))
        mine, java = by_id[r.msg_id], by_id[sent[0]['msgId']]
        self.assertEqual((mine.body, mine.tags, mine.keys), (body, b'TagA', b'k1 k2'))
        self.assertEqual(mine.get_property('p1'), b'v1')
        self.assertEqual(mine['中文'], '值'.encode())
        self.assertEqual(mine.get_property(MessageProperty.KEYS), b'k1 k2')
        self.assertEqual(mine.get_property('absent'), b'')
        self.assertEqual((mine.queue_id, mine.offset), (r.queue_id, r.offset))
        self.assertEqual(mine.offset_msg_id, r.offset_msg_id)
        self.assertEqual((java.topic, java.body, java.tags, java.keys), (topic, b'from java', b'TagJ', b'a b'))
        self.assertEqual(java.get_property('x'), b'y')
        self.assertEqual((java.queue_id, java.queue_offset), (sent[0]['queueId'], sent[0]['queueOffset']))
        self.assertEqual(java.offset_msg_id, sent[0]['offsetMsgId'])
        self.assertEqual(java.reconsume_times, 0)
        self.assertEqual(str(java), 'from java')

    def test_send_results(self):
        topic = rmqtest.make_topic('py_results', queues=4)
        p = producer()
        with self.assertRaises(ProducerSendSyncFailed):
            p.send_sync(Message(topic, b'x'))  # not started
        with p:
            r = p.send_sync(Message(topic, b'sync'))
            self.assertIs(r.status, SendStatus.OK)
            status, msg_id, offset = r  # the official 3-tuple
            self.assertRegex(msg_id, '^[0-9A-F]{32}$')
            self.assertEqual(r.topic, topic)
            key = 'order-42'
            o = p.send_orderly_with_sharding_key(Message(topic, b'ordered'), key)
            self.assertEqual(o.queue_id, abs(java_hash(key)) % 4)  # Java's SelectMessageQueueByHash
            b = p.send_batch([Message(topic, b'b0'), Message(topic, b'b1')])
            self.assertEqual(len(b.msg_id.split(',')), 2)
            with self.assertRaises(ProducerSendSyncFailed) as e:
                p.send_sync(Message(topic))  # empty body
            self.assertEqual(e.exception.name, 'ERR_MSG_EMPTY')
            with self.assertRaises(ProducerSendSyncFailed) as e:
                p.send_sync(Message('bad topic!', b'x'))  # brokers auto-create others
            self.assertEqual((e.exception.name, e.exception.code), ('ERR_INVALID_ARG', -1))
            results, done = [], threading.Event()

            def ok(res):
                results.append((threading.current_thread().name, res))
                done.set()
            p.send_async(Message(topic, b'async'), ok, lambda e: results.append(e))
            self.assertTrue(done.wait(30))
        self.assertEqual(len(results), 1)
        self.assertEqual(results[0][0], POLLER)
        a = results[0][1]
        got = {m['bodyText']: m for m in peer_consume(topic, 5)}
        self.assertEqual(sorted(got), ['async', 'b0', 'b1', 'ordered', 'sync'])
        for res, bodies in ((r, ['sync']), (o, ['ordered']), (a, ['async']), (b, ['b0', 'b1'])):
            for i, body in enumerate(bodies):
                g = got[body]
                self.assertEqual(g['msgId'], res.msg_id.split(',')[i])
                self.assertEqual((g['queueId'], g['queueOffset']), (res.queue_id, res.offset + i))
                self.assertEqual(g['brokerName'], res.broker_name)
        with self.assertRaises(InvalidArgument) as e:
            p.set_timeout(-5)  # checked when set
        self.assertEqual(e.exception.name, 'ERR_CONF_INVALID')
        p.start()
        try:
            with self.assertRaises(ProducerStartFailed):
                p.start()
        finally:
            p.shutdown()

    def test_orderly_consumer(self):
        topic = rmqtest.make_topic('py_orderly', queues=4)
        lines = [{'body': 'O%d-%d' % (i % 3, i), 'shardingKey': 'O%d' % (i % 3)} for i in range(30)]
        peer_produce(topic, lines)
        c = consumer(orderly=True)
        col = Collector(30, fail_first=[b'O1-4'])  # suspended, then retried in place
        c.subscribe(topic, col)
        c.start()
        try:
            self.assertTrue(col.done.wait(60), 'got %d of 30' % len(col.msgs))
        finally:
            c.shutdown()
        self.assertEqual(col.threads, {POLLER})
        self.assertFalse(col.fail_first)
        bodies = [m.body.decode() for m in col.msgs]
        self.assertEqual(sorted(bodies), sorted(line['body'] for line in lines))
        for o in range(3):
            steps = [int(b.split('-')[1]) for b in bodies if b.startswith('O%d-' % o)]
            self.assertEqual(steps, list(range(o, 30, 3)))

    def test_transaction_commit_rollback(self):
        topic = rmqtest.make_topic('py_tx')
        checks = []
        p = producer(unique('py_txg'), TransactionMQProducer, lambda m: checks.append(m) or TransactionStatus.COMMIT)
        p.start()
        seen = []

        def local(msg, arg):
            seen.append((threading.current_thread() is threading.main_thread(), msg.body, arg,
                         msg.transaction_id))
            return arg
        try:
            rc = p.send_message_in_transaction(Message(topic, b'commit me'), local, TransactionStatus.COMMIT)
            rr = p.send_message_in_transaction(Message(topic, b'roll me back'), local, TransactionStatus.ROLLBACK)
        finally:
            p.shutdown()
        self.assertEqual((rc.status, rc.local_state), (SendStatus.OK, TransactionStatus.COMMIT))
        self.assertEqual((rr.status, rr.local_state), (SendStatus.OK, TransactionStatus.ROLLBACK))
        self.assertEqual([s[:3] for s in seen], [(True, b'commit me', TransactionStatus.COMMIT),
                                                 (True, b'roll me back', TransactionStatus.ROLLBACK)])
        self.assertEqual(seen[0][3], rc.msg_id)
        msgs = peer_consume(topic, 1)  # and 2 s with nothing else: the rollback is gone
        self.assertEqual([(m['msgId'], m['bodyText']) for m in msgs], [(rc.msg_id, 'commit me')])

    def test_bounded_shutdown(self):
        topic = rmqtest.make_topic('py_shutdown', queues=1)
        p = producer()
        with p:
            for i in range(5):
                p.send_sync(Message(topic, b'm%d' % i))
        c = consumer()
        entered, calls, finished = threading.Event(), [], []

        def slow(msg):
            calls.append(msg.body)
            entered.set()
            time.sleep(2)
            finished.append(msg.body)
            return ConsumeStatus.CONSUME_SUCCESS
        c.subscribe(topic, slow)
        c.start()
        self.assertTrue(entered.wait(60))
        t0 = time.monotonic()
        c.shutdown(timeout_ms=1000)
        took = time.monotonic() - t0
        n = len(calls)
        time.sleep(0.5)
        self.assertEqual(len(calls), n, 'a listener ran after shutdown returned')
        self.assertEqual(len(finished), n, 'shutdown returned with a listener still running')
        self.assertLess(took, 2 + 1 + 2, 'shutdown took %.1f s' % took)  # the listener's 2 s + timeout + margin
        self.assertFalse([t for t in threading.enumerate() if t.name == POLLER])
        c.shutdown()  # a second time: nothing

    def test_shutdown_from_listener_refused(self):
        topic = rmqtest.make_topic('py_selfstop', queues=1)
        with producer() as p:
            p.send_sync(Message(topic, b'x'))
        c = consumer()
        errors, done = [], threading.Event()

        def listener(msg):
            try:
                c.shutdown()
            except RocketMQException as e:
                errors.append(e)
            done.set()
            return ConsumeStatus.CONSUME_SUCCESS
        c.subscribe(topic, listener)
        c.start()
        try:
            self.assertTrue(done.wait(60))
        finally:
            c.shutdown()
        self.assertEqual(len(errors), 1)

    def test_ctrl_c_with_listener_running(self):
        topic = rmqtest.make_topic('py_sigint', queues=1)
        with producer() as p:
            p.send_sync(Message(topic, b'x'))
        script = textwrap.dedent('''
            import sys, time
            from rocketmq.client import PushConsumer, ConsumeStatus
            def on_message(msg):
                print('in listener', flush=True)
                time.sleep(2)
                print('listener done', flush=True)
                return ConsumeStatus.CONSUME_SUCCESS
            c = PushConsumer(sys.argv[2])
            c.set_name_server_address(sys.argv[1])
            c.subscribe(sys.argv[3], on_message)
            c.start()
            while True:
                time.sleep(3600)
        ''')
        env = dict(os.environ, PYTHONPATH=rmqtest.PYDIR)
        proc = subprocess.Popen([sys.executable, '-c', script, NAMESRV, unique('py_cg'), topic], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = proc.stdout.readline()  # the library logs to stderr
        out, took = rmqtest.ctrl_c(proc, 20)
        self.assertEqual(first, 'in listener\n', out)
        self.assertIn('KeyboardInterrupt', out)
        self.assertIn('listener done', out)  # the listener finished before the exit
        self.assertLess(took, 2 + 3 + 3, out)  # listener + default shutdown timeout + margin


if __name__ == '__main__':
    case = os.environ.get('RMQ_TEST_CASE')
    argv = [sys.argv[0]] + (['Binding.test_' + case] if case else [])
    unittest.main(argv=argv, verbosity=2)
