# SPDX-License-Identifier: Apache-2.0
"""The rocketmq-client-python 2.x API (rocketmq.client) over librmq, with ctypes.

Threading: every producer and consumer owns a librmq client instance in
callbackMode=poll and one Python thread (the poller) that calls rmq_poll();
send callbacks, listeners and transaction checks run there and never on a
library thread. See doc/python.md.
"""
import ctypes
import inspect
import sys
import threading
import time
import traceback
from collections import namedtuple
from enum import IntEnum

from . import ffi
from .ffi import lib
from .consts import MessageProperty
from .exceptions import (
    RocketMQException, NullPointerException, InvalidArgument, ProducerStartFailed,
    ProducerSendSyncFailed, ProducerSendOnewayFailed, ProducerSendOrderlyFailed,
    ProducerSendAsyncFailed, ProducerSendBatchFailed, ProducerSendTransactionFailed,
    PushConsumerStartFailed,
)

__all__ = ['SendStatus', 'SendResult', 'Message', 'ReceivedMessage', 'Producer', 'PushConsumer',
           'TransactionMQProducer', 'TransactionStatus', 'ConsumeStatus', 'MessageModel',
           'MessageProperty', 'RocketMQException']

DEFAULT_SHUTDOWN_TIMEOUT_MS = 3000
_POLL_MS = 100
_ERRSTR = 512


class _Enum(IntEnum):
    """str() and format() give 'SendStatus.OK' on every Python version (as
    IntEnum did before 3.11, the versions the official client supports)."""

    def __str__(self):
        return '%s.%s' % (type(self).__name__, self.name)

    def __format__(self, spec):
        return format(str(self), spec)


class SendStatus(_Enum):
    OK = 0
    FLUSH_DISK_TIMEOUT = 1
    FLUSH_SLAVE_TIMEOUT = 2
    SLAVE_NOT_AVAILABLE = 3


class TransactionStatus(_Enum):
    COMMIT = 0
    ROLLBACK = 1
    UNKNOWN = 2


class ConsumeStatus(_Enum):
    CONSUME_SUCCESS = 0
    RECONSUME_LATER = 1


class MessageModel(_Enum):
    BROADCASTING = 0
    CLUSTERING = 1


# TransactionStatus <-> rmq_tx_state_t (UNKNOWN 0, COMMIT 1, ROLLBACK 2)
_TX_TO_C = {TransactionStatus.COMMIT: 1, TransactionStatus.ROLLBACK: 2, TransactionStatus.UNKNOWN: 0}
_TX_FROM_C = {v: k for k, v in _TX_TO_C.items()}


class SendResult(namedtuple('SendResult', ['status', 'msg_id', 'offset'])):
    """(status, msg_id, offset) as in the official client; librmq adds the
    attributes offset_msg_id, topic, broker_name, queue_id, transaction_id
    and (for transactions) local_state."""
    offset_msg_id = topic = broker_name = transaction_id = None
    queue_id = -1
    local_state = None


def _to_bytes(s):
    if isinstance(s, str):
        return s.encode('utf-8')
    if isinstance(s, (bytes, bytearray)):
        return bytes(s)
    raise TypeError('expected str or bytes, got %s' % type(s).__name__)


def _dec(b):
    return b.decode('utf-8', 'replace') if b is not None else None


def _err_text(code, detail=None):
    text = _dec(lib.rmq_err_str(code))
    if detail:
        text = '%s: %s' % (detail, text) if detail != text else text
    return '%s (%s, code %d)' % (text, _dec(lib.rmq_err_name(code)), code)


def _raise(cls, code, detail=None):
    raise cls(_err_text(code, detail), code, _dec(lib.rmq_err_name(code)))


def _check(code, cls=InvalidArgument, detail=None):
    if code != 0:
        _raise(cls, code, detail)


def _result(c_res, local_state=None):
    r = SendResult(SendStatus(c_res.status), _dec(c_res.msg_id) or '', c_res.queue_offset)
    r.offset_msg_id = _dec(c_res.offset_msg_id)
    r.topic = _dec(c_res.topic)
    r.broker_name = _dec(c_res.broker_name)
    r.queue_id = c_res.queue_id
    r.transaction_id = _dec(c_res.transaction_id)
    r.local_state = local_state
    return r


def _report(what):
    """An exception raised by user code on the poller: print it, go on."""
    sys.stderr.write('rocketmq: exception in %s:\n' % what)
    traceback.print_exc()


# ---- messages ---------------------------------------------------------------

class Message(object):
    """A message to send. Message(topic[, body]) (body: librmq extension).
    Setters check their value at once (InvalidArgument, e.g. for a reserved
    property name)."""

    def __init__(self, topic, body=None):
        self._topic = _to_bytes(topic)
        self._handle = lib.rmq_msg_new(self._topic)
        if not self._handle:
            raise NullPointerException('rmq_msg_new failed for topic %r' % topic)
        self._ops = []  # the setters, replayed on a copy for send_async
        if body is not None:
            self.set_body(body)

    def __del__(self):
        h, self._handle = getattr(self, '_handle', None), None
        if h:
            lib.rmq_msg_destroy(h)

    def _apply(self, handle, fn, args):
        _check(getattr(lib, fn)(handle, *args), InvalidArgument, fn)

    def _set(self, fn, *args):
        self._apply(self._handle, fn, args)
        self._ops.append((fn, args))

    def set_keys(self, keys):
        self._set('rmq_msg_set_keys', _to_bytes(keys))

    def set_tags(self, tags):
        self._set('rmq_msg_set_tags', _to_bytes(tags))

    def set_body(self, body):
        b = _to_bytes(body)
        self._set('rmq_msg_set_body', b, len(b))

    def set_property(self, key, value):
        if isinstance(key, MessageProperty):
            key = key.value
        self._set('rmq_msg_set_property', _to_bytes(key), _to_bytes(value))

    def set_delay_time_level(self, delay_time_level):
        self._set('rmq_msg_set_delay_level', int(delay_time_level))

    def set_sharding_key(self, key):
        """librmq extension: the key send_orderly hashes (Java's SelectMessageQueueByHash)."""
        self._set('rmq_msg_set_sharding_key', _to_bytes(key))

    @property
    def topic(self):
        return self._topic.decode('utf-8')

    def _copy_handle(self):
        """A new C message with the same content, owned by the caller."""
        h = lib.rmq_msg_new(self._topic)
        if not h:
            raise NullPointerException('rmq_msg_new failed')
        try:
            for fn, args in self._ops:
                self._apply(h, fn, args)
        except BaseException:
            lib.rmq_msg_destroy(h)
            raise
        return h

    @property
    def _as_parameter_(self):
        return self._handle


class ReceivedMessage(object):
    """A received message. Unlike the official client, every field is copied
    when the message is made, so it stays valid after the listener returns."""

    def __init__(self, handle):
        h = handle
        self.topic = _dec(lib.rmq_msg_topic(h))
        n = ctypes.c_size_t(0)
        p = lib.rmq_msg_body(h, ctypes.byref(n))
        self.body = ctypes.string_at(p, n.value) if p and n.value else b''
        self.tags = lib.rmq_msg_tags(h) or b''
        self.keys = lib.rmq_msg_keys(h) or b''
        self.id = _dec(lib.rmq_msg_id(h))
        self.offset_msg_id = _dec(lib.rmq_msg_offset_id(h))
        self.broker_name = _dec(lib.rmq_msg_broker_name(h))
        self.delay_time_level = lib.rmq_msg_delay_level(h)
        self.queue_id = lib.rmq_msg_queue_id(h)
        self.queue_offset = lib.rmq_msg_queue_offset(h)
        self.commit_log_offset = lib.rmq_msg_commitlog_offset(h)
        self.reconsume_times = lib.rmq_msg_reconsume_times(h)
        self.born_timestamp = lib.rmq_msg_born_timestamp(h)
        self.store_timestamp = lib.rmq_msg_store_timestamp(h)
        self.born_host = _dec(lib.rmq_msg_born_host(h))
        self.store_host = _dec(lib.rmq_msg_store_host(h))
        self.transaction_id = _dec(lib.rmq_msg_transaction_id(h))
        props = {}
        name, value = ctypes.c_char_p(), ctypes.c_char_p()
        for i in range(lib.rmq_msg_property_count(h)):
            if lib.rmq_msg_property_at(h, i, ctypes.byref(name), ctypes.byref(value)) == 0:
                props[_dec(name.value)] = value.value or b''
        self.properties = props
        # not exposed by librmq (the official client has them): -1
        self.store_size = -1
        self.prepared_transaction_offset = -1

    @property
    def offset(self):
        """The queue offset (same as queue_offset)."""
        return self.queue_offset

    def get_property(self, prop):
        """The property's value as bytes; b'' when absent (as the official client)."""
        if isinstance(prop, MessageProperty):
            prop = prop.value
        if isinstance(prop, bytes):
            prop = prop.decode('utf-8')
        return self.properties.get(prop, b'')

    def __getitem__(self, key):
        return self.get_property(key)

    def __str__(self):
        return self.body.decode('utf-8')

    def __bytes__(self):
        return self.body

    def __repr__(self):
        return '<ReceivedMessage topic={} id={} body={}>'.format(
            repr(self.topic), repr(self.id), repr(self.body))


# ---- the poller and process exit ------------------------------------------

class _Registry(object):
    """Started producers and consumers, so that process exit shuts them down."""

    def __init__(self):
        self.lock = threading.Lock()
        self.live = []
        self.hooked = False

    def add(self, obj):
        with self.lock:
            self.live.append(obj)
            if not self.hooked:
                self.hooked = True
                import atexit
                atexit.register(self.shutdown_all)
                reg = getattr(threading, '_register_atexit', None)
                if reg is not None:
                    reg(self.at_main_exit)

    def remove(self, obj):
        with self.lock:
            if obj in self.live:
                self.live.remove(obj)

    def consumers_running(self):
        with self.lock:
            return any(isinstance(o, PushConsumer) for o in self.live)

    def at_main_exit(self):
        # Runs when the main thread is done, before Python joins threads. A
        # consumer started and never shut down keeps consuming (as in Java)
        # until Ctrl-C; after an uncaught exception (Ctrl-C included), stop.
        if getattr(sys, 'last_type', None) is None:
            try:
                while self.consumers_running():
                    time.sleep(0.2)
            except KeyboardInterrupt:
                pass
        self.shutdown_all()

    def shutdown_all(self):
        with self.lock:
            objs = list(reversed(self.live))
        for o in objs:
            try:
                o.shutdown()
            except Exception:
                _report('shutdown at exit')


_registry = _Registry()


class _Instance(object):
    """A librmq client instance in callbackMode=poll and the thread that polls it."""

    def __init__(self, conf, start_error):
        err = ctypes.create_string_buffer(_ERRSTR)
        self.handle = lib.rmq_client_new(conf, err, _ERRSTR)
        if not self.handle:
            raise start_error(_dec(err.value) or 'rmq_client_new failed')
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name='rocketmq-poll', daemon=True)

    def _run(self):
        while not self.stop.is_set():
            lib.rmq_poll(self.handle, _POLL_MS)

    def on_poller(self):
        return threading.current_thread() is self.thread

    def close(self, timeout_ms):
        """Stops polling, then destroys the instance; it runs what is still
        queued on this thread, each callback once."""
        self.stop.set()
        if self.thread.is_alive() and not self.on_poller():
            self.thread.join()
        lib.rmq_client_destroy(self.handle, int(timeout_ms))
        self.handle = None


class _Conf(object):
    """An rmq_conf_t; set() checks each value at once."""

    def __init__(self):
        self.handle = lib.rmq_conf_new()
        if not self.handle:
            raise NullPointerException('rmq_conf_new failed')
        self.set('callbackMode', 'poll')

    def set(self, key, value):
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        err = ctypes.create_string_buffer(_ERRSTR)
        code = lib.rmq_conf_set(self.handle, _to_bytes(key), _to_bytes(str(value)), err, _ERRSTR)
        if code != 0:
            _raise(InvalidArgument, code, _dec(err.value) or key)

    def __del__(self):
        h, self.handle = getattr(self, 'handle', None), None
        if h:
            lib.rmq_conf_destroy(h)


class _Client(object):
    """What Producer and PushConsumer share: configuration, start, shutdown."""
    _start_error = RocketMQException

    def __init__(self):
        self._conf = _Conf()
        self._inst = None
        self._handle = None
        self._lock = threading.Lock()
        self.shutdown_timeout_ms = DEFAULT_SHUTDOWN_TIMEOUT_MS

    def set_conf(self, key, value):
        """librmq extension: any key of doc/configuration.md."""
        self._conf.set(key, value)

    def set_instance_name(self, name):
        self._conf.set('instanceName', name)

    def set_name_server_address(self, addr):
        self._conf.set('namesrvAddr', addr)

    def set_name_server_domain(self, domain):
        self._conf.set('namesrvDomain', domain)

    def set_session_credentials(self, access_key, access_secret, channel):
        self._conf.set('accessKey', access_key)
        self._conf.set('secretKey', access_secret)
        if channel:
            self._conf.set('accessChannel', channel)

    def set_message_trace(self, message_trace):
        self._conf.set('enableMsgTrace', bool(message_trace))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exec_type, value, tb):
        self.shutdown()

    def _create(self, inst_handle):  # -> the producer or consumer handle
        raise NotImplementedError

    def _destroy(self, handle, timeout_ms):
        raise NotImplementedError

    def start(self):
        with self._lock:
            if self._handle is not None:
                raise self._start_error('already started', -30, 'ERR_STATE')
            inst = _Instance(self._conf.handle, self._start_error)
            try:
                self._handle = self._create(inst.handle)
            except BaseException:
                lib.rmq_client_destroy(inst.handle, 0)
                raise
            self._inst = inst
            inst.thread.start()
        _registry.add(self)

    def shutdown(self, timeout_ms=None):
        """Stops within about timeout_ms (default shutdown_timeout_ms, 3 s)
        plus the run time of a listener call in progress. Must not be called
        from a callback of the same object."""
        if self._inst is not None and self._inst.on_poller():
            raise RocketMQException('shutdown() called from a callback of the object it shuts down',
                                    -30, 'ERR_STATE')
        with self._lock:
            h, inst = self._handle, self._inst
            self._handle = self._inst = None
        if h is None:
            return
        t = self.shutdown_timeout_ms if timeout_ms is None else timeout_ms
        try:
            self._destroy(h, t)  # the poller still runs the callbacks
        finally:
            inst.close(t)
            _registry.remove(self)

    def _started(self, cls):
        h = self._handle
        if h is None:
            raise cls('not started (call start() first)', -30, 'ERR_STATE')
        return h


# ---- producers ----------------------------------------------------------------

class Producer(_Client):
    _start_error = ProducerStartFailed

    def __init__(self, group_id, orderly=False, timeout=None, compress_level=None, max_message_size=None):
        super(Producer, self).__init__()
        self._conf.set('producerGroup', group_id)
        if timeout is not None:
            self.set_timeout(timeout)
        if compress_level is not None:
            self.set_compress_level(compress_level)
        if max_message_size is not None:
            self.set_max_message_size(max_message_size)
        self._pending = {}  # token -> (on_success, on_exception)
        self._next_token = 1
        self._send_cb = ffi.SEND_CB(self._on_send)

    def set_group(self, group_name):
        self._conf.set('producerGroup', group_name)

    def set_timeout(self, timeout):
        self._conf.set('sendMsgTimeout', int(timeout))

    def set_compress_level(self, level):
        self._conf.set('compressLevel', int(level))

    def set_max_message_size(self, max_size):
        self._conf.set('maxMessageSize', int(max_size))

    def _create(self, inst_handle):
        err = ctypes.create_string_buffer(_ERRSTR)
        h = lib.rmq_producer_new(inst_handle, self._conf.handle, err, _ERRSTR)
        if not h:
            raise ProducerStartFailed(_dec(err.value) or 'rmq_producer_new failed')
        return h

    def _destroy(self, handle, timeout_ms):
        lib.rmq_producer_destroy(handle, int(timeout_ms))

    def _send_with(self, fn, cls, *args):
        h = self._started(cls)
        res = ffi.SendResultC()
        try:
            code = fn(h, *(args + (ctypes.byref(res),)))
            if code != 0:
                _raise(cls, code, _dec(res.error))
            return _result(res)
        finally:
            lib.rmq_send_result_clear(ctypes.byref(res))

    def send_sync(self, msg, selector=None):
        """Sends and waits. selector (librmq extension, the user's examples):
        a sharding key; the message goes to the queue it hashes to, as
        send_orderly_with_sharding_key."""
        if selector is not None:
            return self.send_orderly_with_sharding_key(msg, selector)
        return self._send_with(lib.rmq_producer_send, ProducerSendSyncFailed, msg._handle)

    def send_orderly_with_sharding_key(self, msg, sharding_key):
        msg.set_sharding_key(str(sharding_key) if not isinstance(sharding_key, (str, bytes)) else sharding_key)
        return self._send_with(lib.rmq_producer_send_orderly, ProducerSendOrderlyFailed, msg._handle)

    def send_oneway(self, msg):
        h = self._started(ProducerSendOnewayFailed)
        _check(lib.rmq_producer_send_oneway(h, msg._handle), ProducerSendOnewayFailed)

    def send_batch(self, msgs):
        """librmq extension: one request for messages of one topic."""
        msgs = list(msgs)
        arr = (ctypes.c_void_p * len(msgs))(*[m._handle for m in msgs])
        return self._send_with(lib.rmq_producer_send_batch, ProducerSendBatchFailed, arr, len(msgs))

    def send_async(self, msg, on_success, on_exception=None):
        """librmq extension (the user's examples): sends without waiting;
        on_success(SendResult) or on_exception(exception) runs once, on the
        poller thread. Errors found before sending are raised here."""
        h = self._started(ProducerSendAsyncFailed)
        c_msg = msg._copy_handle()
        with self._lock:
            token = self._next_token
            self._next_token += 1
            self._pending[token] = (on_success, on_exception)
        code = lib.rmq_producer_send_async(h, c_msg, self._send_cb, ctypes.c_void_p(token))
        if code != 0:
            with self._lock:
                self._pending.pop(token, None)
            lib.rmq_msg_destroy(c_msg)
            _raise(ProducerSendAsyncFailed, code)

    def _on_send(self, producer, err, res, msg, opaque):
        with self._lock:
            on_success, on_exception = self._pending.pop(opaque or 0, (None, None))
        try:
            if err == 0:
                if on_success is not None:
                    on_success(_result(res.contents))
            elif on_exception is not None:
                detail = _dec(res.contents.error) if res else None
                on_exception(ProducerSendAsyncFailed(_err_text(err, detail), err, _dec(lib.rmq_err_name(err))))
        except BaseException:
            _report('send callback')


class TransactionMQProducer(Producer):
    """TransactionMQProducer(group_id, checker_callback) as in the official
    client, or TransactionMQProducer(group_id) and set_transaction_listener(obj)
    with obj.execute_local_transaction(msg[, arg]) and
    obj.check_local_transaction(msg) (the user's examples, Java-style)."""

    def __init__(self, group_id, checker_callback=None, user_args=None, timeout=None, compress_level=None,
                 max_message_size=None):
        super(TransactionMQProducer, self).__init__(group_id, timeout=timeout, compress_level=compress_level,
                                                    max_message_size=max_message_size)
        self._checker = checker_callback
        self._listener = None
        self._tls = threading.local()
        self._exec_cb = ffi.TX_EXECUTE_CB(self._on_execute)
        self._check_cb = ffi.TX_CHECK_CB(self._on_check)

    def set_transaction_listener(self, listener):
        self._listener = listener

    def _create(self, inst_handle):
        if self._checker is None and self._listener is None:
            raise ProducerStartFailed('no checker_callback and no transaction listener', -1, 'ERR_INVALID_ARG')
        h = super(TransactionMQProducer, self)._create(inst_handle)
        code = lib.rmq_producer_set_transaction_listener(h, self._exec_cb, self._check_cb, None)
        if code != 0:
            lib.rmq_producer_destroy(h, 0)
            _raise(ProducerStartFailed, code)
        return h

    @staticmethod
    def _state(value, what):
        try:
            return _TX_TO_C[TransactionStatus(value)]
        except (ValueError, TypeError, KeyError):
            sys.stderr.write('rocketmq: %s returned %r, not a TransactionStatus: UNKNOWN\n' % (what, value))
            return 0

    def _on_execute(self, producer, c_msg, arg, opaque):
        local_execute, user_args = getattr(self._tls, 'call', (None, None))
        try:
            msg = ReceivedMessage(c_msg)
            if local_execute is not None:
                return self._state(local_execute(msg, user_args), 'local_execute')
            fn = self._listener.execute_local_transaction
            try:
                two = len(inspect.signature(fn).parameters) >= 2
            except (TypeError, ValueError):
                two = False
            return self._state(fn(msg, user_args) if two else fn(msg), 'execute_local_transaction')
        except BaseException:
            _report('local transaction')
            return 0

    def _on_check(self, producer, c_msg, opaque):
        try:
            msg = ReceivedMessage(c_msg)
            if self._checker is not None:
                return self._state(self._checker(msg), 'checker_callback')
            return self._state(self._listener.check_local_transaction(msg), 'check_local_transaction')
        except BaseException:
            _report('transaction check')
            return 0

    def send_message_in_transaction(self, message, local_execute=None, user_args=None):
        """Sends the half message, runs local_execute(msg, user_args) (or the
        listener's execute_local_transaction) on this thread, and commits or
        rolls back. The result's local_state is the TransactionStatus sent."""
        h = self._started(ProducerSendTransactionFailed)
        if local_execute is None and self._listener is None:
            raise ValueError('no local_execute and no transaction listener')
        res = ffi.SendResultC()
        state = ctypes.c_int(0)
        self._tls.call = (local_execute, user_args)
        try:
            code = lib.rmq_producer_send_in_transaction(h, message._handle, None, ctypes.byref(res),
                                                        ctypes.byref(state))
            if code != 0:
                _raise(ProducerSendTransactionFailed, code, _dec(res.error))
            return _result(res, _TX_FROM_C.get(state.value, TransactionStatus.UNKNOWN))
        finally:
            self._tls.call = (None, None)
            lib.rmq_send_result_clear(ctypes.byref(res))


# ---- push consumer ------------------------------------------------------------

class PushConsumer(_Client):
    _start_error = PushConsumerStartFailed

    def __init__(self, group_id, orderly=False, message_model=MessageModel.CLUSTERING):
        super(PushConsumer, self).__init__()
        self._conf.set('consumerGroup', group_id)
        self._orderly = bool(orderly)
        self._subs = {}  # topic -> (expression, callback or None)
        self._default = None
        self._consume_cb = ffi.CONSUME_CB(self._on_messages)
        self.set_message_model(message_model)

    def set_message_model(self, model):
        self._conf.set('messageModel', MessageModel(model).name)

    def set_group(self, group_id):
        self._conf.set('consumerGroup', group_id)

    def set_thread_count(self, thread_count):
        """Accepted; listeners run on the one poller thread (see doc/python.md)."""
        self._conf.set('consumeThreadMin', int(thread_count))

    def set_message_batch_max_size(self, max_size):
        self._conf.set('consumeMessageBatchMaxSize', int(max_size))

    def subscribe(self, topic, callback=None, expression='*'):
        """subscribe(topic, callback, expression='*') as in the official
        client, or subscribe(topic, expression) with a listener from
        register_message_listener (the user's examples)."""
        if isinstance(callback, (str, bytes)):
            callback, expression = None, callback
        self._subs[_dec(_to_bytes(topic))] = (expression, callback)
        h = self._handle
        if h is not None:
            _check(lib.rmq_push_consumer_subscribe(h, _to_bytes(topic), _to_bytes(expression)))

    def register_message_listener(self, callback):
        """librmq extension: the listener of topics subscribed without one."""
        self._default = callback

    def _create(self, inst_handle):
        err = ctypes.create_string_buffer(_ERRSTR)
        h = lib.rmq_push_consumer_new(inst_handle, self._conf.handle, err, _ERRSTR)
        if not h:
            raise PushConsumerStartFailed(_dec(err.value) or 'rmq_push_consumer_new failed')
        try:
            set_listener = (lib.rmq_push_consumer_set_listener_orderly if self._orderly
                            else lib.rmq_push_consumer_set_listener)
            _check(set_listener(h, self._consume_cb, None), PushConsumerStartFailed)
            for topic, (expression, _) in self._subs.items():
                _check(lib.rmq_push_consumer_subscribe(h, _to_bytes(topic), _to_bytes(expression)),
                       PushConsumerStartFailed, 'subscribe %s' % topic)
            _check(lib.rmq_push_consumer_start(h), PushConsumerStartFailed)
        except BaseException:
            lib.rmq_push_consumer_destroy(h, 0)
            raise
        return h

    def _destroy(self, handle, timeout_ms):
        lib.rmq_push_consumer_destroy(handle, int(timeout_ms))

    def _callback_for(self, topic):
        sub = self._subs.get(topic)
        if sub is not None and sub[1] is not None:
            return sub[1]
        if self._default is not None:
            return self._default
        cbs = [c for _, c in self._subs.values() if c is not None]
        return cbs[0] if len(cbs) == 1 else None

    def _consume_one(self, c_msg):
        try:
            msg = ReceivedMessage(c_msg)
            cb = self._callback_for(msg.topic)
            if cb is None:
                sys.stderr.write('rocketmq: no listener for topic %s: RECONSUME_LATER\n' % msg.topic)
                return False
            st = cb(msg)
            if st == ConsumeStatus.CONSUME_SUCCESS:
                return True
            if st != ConsumeStatus.RECONSUME_LATER:
                sys.stderr.write('rocketmq: listener returned %r, not a ConsumeStatus: RECONSUME_LATER\n' % (st,))
            return False
        except BaseException:
            _report('message listener')
            return False

    def _on_messages(self, consumer, msgs, n, ctx, opaque):
        for i in range(n):
            if not self._consume_one(msgs[i]):
                if self._orderly:
                    return 2  # RMQ_CONSUME_SUSPEND: the batch again, later
                ctx.contents.ack_index = i - 1  # those from i on are retried
                return 0
        return 0
