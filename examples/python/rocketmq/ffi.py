# SPDX-License-Identifier: Apache-2.0
"""ctypes declarations of include/rmq.h (only what the binding uses).

Structs are laid out exactly as in rmq.h; keep them in step with it.
"""
import ctypes
import ctypes.util
import glob
import os

__all__ = ['lib', 'lib_path', 'SendResultC', 'QueueC', 'ConsumeCtxC',
           'SEND_CB', 'CONSUME_CB', 'TX_EXECUTE_CB', 'TX_CHECK_CB']


def _candidates():
    env = os.environ.get('RMQ_LIB')
    if env:
        yield env
        return
    found = ctypes.util.find_library('rmq')
    if found:
        yield found
    # A build directory of this source tree: <root>/build*/lib/librmq.so
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
    for path in sorted(glob.glob(os.path.join(root, 'build*', 'lib', 'librmq.so*'))):
        yield path


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append('%s: %s' % (path, e))
    raise ImportError('librmq not found (set RMQ_LIB to the path of librmq.so); tried: %s'
                      % ('; '.join(tried) or 'RMQ_LIB unset, find_library(\'rmq\') found nothing, no build dir'))


lib, lib_path = _load()

c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
c_int = ctypes.c_int
c_int32 = ctypes.c_int32
c_int64 = ctypes.c_int64
c_size_t = ctypes.c_size_t


class SendResultC(ctypes.Structure):
    """rmq_send_result_t"""
    _fields_ = [
        ('status', c_int),
        ('msg_id', c_char_p),
        ('offset_msg_id', c_char_p),
        ('topic', c_char_p),
        ('broker_name', c_char_p),
        ('queue_id', c_int32),
        ('queue_offset', c_int64),
        ('transaction_id', c_char_p),
        ('region_id', c_char_p),
        ('broker_code', c_int),
        ('error', c_char_p),
        ('attempts', c_int),
        ('internal_', c_void_p),
        ('reserved_', c_void_p * 4),
    ]


class QueueC(ctypes.Structure):
    """rmq_queue_t"""
    _fields_ = [
        ('topic', c_char_p),
        ('broker_name', c_char_p),
        ('queue_id', c_int32),
    ]


class ConsumeCtxC(ctypes.Structure):
    """rmq_consume_ctx_t"""
    _fields_ = [
        ('queue', QueueC),
        ('ack_index', c_int),
        ('delay_level', c_int),
        ('suspend_ms', c_int64),
        ('reserved_', c_void_p * 4),
    ]


# rmq_send_cb(producer, err, res, msg, opaque)
SEND_CB = ctypes.CFUNCTYPE(None, c_void_p, c_int, ctypes.POINTER(SendResultC), c_void_p, c_void_p)
# rmq_consume_cb(consumer, msgs, n, ctx, opaque) -> rmq_consume_status_t
CONSUME_CB = ctypes.CFUNCTYPE(c_int, c_void_p, ctypes.POINTER(c_void_p), c_size_t,
                              ctypes.POINTER(ConsumeCtxC), c_void_p)
# rmq_tx_execute_cb(producer, msg, arg, opaque) -> rmq_tx_state_t
TX_EXECUTE_CB = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p, c_void_p)
# rmq_tx_check_cb(producer, msg, opaque) -> rmq_tx_state_t
TX_CHECK_CB = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p)


def _sig(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


P = c_void_p
_sig('rmq_err_str', c_char_p, c_int)
_sig('rmq_err_name', c_char_p, c_int)
_sig('rmq_version', c_char_p)
_sig('rmq_conf_new', P)
_sig('rmq_conf_destroy', None, P)
_sig('rmq_conf_set', c_int, P, c_char_p, c_char_p, c_char_p, c_size_t)
_sig('rmq_msg_new', P, c_char_p)
_sig('rmq_msg_destroy', None, P)
_sig('rmq_msg_set_body', c_int, P, c_char_p, c_size_t)
_sig('rmq_msg_set_tags', c_int, P, c_char_p)
_sig('rmq_msg_set_keys', c_int, P, c_char_p)
_sig('rmq_msg_set_property', c_int, P, c_char_p, c_char_p)
_sig('rmq_msg_set_delay_level', c_int, P, c_int)
_sig('rmq_msg_set_sharding_key', c_int, P, c_char_p)
_sig('rmq_msg_topic', c_char_p, P)
_sig('rmq_msg_body', c_void_p, P, ctypes.POINTER(c_size_t))
_sig('rmq_msg_tags', c_char_p, P)
_sig('rmq_msg_keys', c_char_p, P)
_sig('rmq_msg_property', c_char_p, P, c_char_p)
_sig('rmq_msg_property_count', c_size_t, P)
_sig('rmq_msg_property_at', c_int, P, c_size_t, ctypes.POINTER(c_char_p), ctypes.POINTER(c_char_p))
_sig('rmq_msg_delay_level', c_int, P)
_sig('rmq_msg_id', c_char_p, P)
_sig('rmq_msg_offset_id', c_char_p, P)
_sig('rmq_msg_broker_name', c_char_p, P)
_sig('rmq_msg_queue_id', c_int32, P)
_sig('rmq_msg_queue_offset', c_int64, P)
_sig('rmq_msg_commitlog_offset', c_int64, P)
_sig('rmq_msg_born_timestamp', c_int64, P)
_sig('rmq_msg_store_timestamp', c_int64, P)
_sig('rmq_msg_born_host', c_char_p, P)
_sig('rmq_msg_store_host', c_char_p, P)
_sig('rmq_msg_reconsume_times', c_int32, P)
_sig('rmq_msg_transaction_id', c_char_p, P)
_sig('rmq_client_new', P, P, c_char_p, c_size_t)
_sig('rmq_client_destroy', None, P, c_int)
_sig('rmq_poll', c_int, P, c_int)
_sig('rmq_send_result_clear', None, ctypes.POINTER(SendResultC))
_sig('rmq_producer_new', P, P, P, c_char_p, c_size_t)
_sig('rmq_producer_send', c_int, P, P, ctypes.POINTER(SendResultC))
_sig('rmq_producer_send_async', c_int, P, P, SEND_CB, c_void_p)
_sig('rmq_producer_send_oneway', c_int, P, P)
_sig('rmq_producer_send_batch', c_int, P, ctypes.POINTER(c_void_p), c_size_t, ctypes.POINTER(SendResultC))
_sig('rmq_producer_send_orderly', c_int, P, P, ctypes.POINTER(SendResultC))
_sig('rmq_producer_destroy', None, P, c_int)
_sig('rmq_producer_set_transaction_listener', c_int, P, TX_EXECUTE_CB, TX_CHECK_CB, c_void_p)
_sig('rmq_producer_send_in_transaction', c_int, P, P, c_void_p, ctypes.POINTER(SendResultC),
     ctypes.POINTER(c_int))
_sig('rmq_push_consumer_new', P, P, P, c_char_p, c_size_t)
_sig('rmq_push_consumer_set_listener', c_int, P, CONSUME_CB, c_void_p)
_sig('rmq_push_consumer_set_listener_orderly', c_int, P, CONSUME_CB, c_void_p)
_sig('rmq_push_consumer_subscribe', c_int, P, c_char_p, c_char_p)
_sig('rmq_push_consumer_start', c_int, P)
_sig('rmq_push_consumer_destroy', None, P, c_int)
