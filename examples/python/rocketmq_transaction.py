# rocketmq_transaction.py
import os
from rocketmq.client import TransactionMQProducer, Message, TransactionStatus

NAMESRV = os.environ.get('NAMESRV_ADDR', 'localhost:9876')
TOPIC = os.environ.get('TOPIC', 'TransactionTopic')

# 创建事务生产者
producer = TransactionMQProducer('TransactionProducerGroup')
producer.set_name_server_address(NAMESRV)

# 事务监听器
class TransactionListener:
    def execute_local_transaction(self, msg):
        # 执行本地事务
        try:
            # 本地业务逻辑
            print(f"Executing local transaction for: {msg.body.decode('utf-8')}")
            # 如果成功，返回 COMMIT
            return TransactionStatus.COMMIT
            # 如果失败，返回 ROLLBACK
            # return TransactionStatus.ROLLBACK
        except Exception as e:
            return TransactionStatus.ROLLBACK
    
    def check_local_transaction(self, msg):
        # 检查本地事务状态
        print(f"Checking local transaction for: {msg.body.decode('utf-8')}")
        return TransactionStatus.COMMIT

producer.set_transaction_listener(TransactionListener())
producer.start()

# 发送事务消息
msg = Message(TOPIC, 'Transaction message'.encode('utf-8'))
result = producer.send_message_in_transaction(msg, None)
print(f"Transaction send result: {result.status}")

producer.shutdown()
