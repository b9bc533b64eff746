# SPDX-License-Identifier: Apache-2.0
"""The official rocketmq-client-python exception names, over librmq's rmq_err_t.

Every exception carries `code` (the rmq_err_t number: negative local errors,
positive broker response codes) and `name` (e.g. "TOPIC_NOT_EXIST").
"""


class RocketMQException(Exception):
    """RocketMQ exception base class"""

    def __init__(self, message, code=None, name=None):
        super(RocketMQException, self).__init__(message)
        self.code = code
        self.name = name


class NullPointerException(RocketMQException):
    pass


class MallocFailed(RocketMQException):
    pass


class ProducerException(RocketMQException):
    pass


class ProducerStartFailed(ProducerException):
    pass


class ProducerSendSyncFailed(ProducerException):
    pass


class ProducerSendOnewayFailed(ProducerException):
    pass


class ProducerSendOrderlyFailed(ProducerException):
    pass


class ProducerSendAsyncFailed(ProducerException):
    pass


class ProducerSendBatchFailed(ProducerSendSyncFailed):
    """librmq extension: send_batch failed."""


class ProducerSendTransactionFailed(ProducerSendSyncFailed):
    """librmq extension: the half message of send_message_in_transaction was not stored."""


class ConsumerException(RocketMQException):
    pass


class PushConsumerStartFailed(ConsumerException):
    pass


class InvalidArgument(RocketMQException, ValueError):
    """librmq extension: a setter refused its value (e.g. a reserved property name)."""
