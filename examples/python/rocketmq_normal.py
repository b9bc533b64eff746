# rocketmq_normal.py
import os
from rocketmq.client import Producer, Message

NAMESRV = os.environ.get('NAMESRV_ADDR', 'localhost:9876')
TOPIC = os.environ.get('TOPIC', 'TopicTest')

# 创建生产者
producer = Producer('ProducerGroup')
producer.set_name_server_address(NAMESRV)
producer.start()

# 发送同步消息
msg = Message(TOPIC, 'Hello RocketMQ'.encode('utf-8'))
result = producer.send_sync(msg)
print(f"Send result: {result.status}, Message ID: {result.msg_id}")

# 发送异步消息
def on_success(result):
    print(f"Send success: {result.msg_id}")

def on_exception(e):
    print(f"Send failed: {e}")

msg = Message(TOPIC, 'Async message'.encode('utf-8'))
producer.send_async(msg, on_success, on_exception)

# 发送单向消息（不关心结果）
msg = Message(TOPIC, 'Oneway message'.encode('utf-8'))
producer.send_oneway(msg)

producer.shutdown()
