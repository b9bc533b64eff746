# rocketmq_batch.py
import os
from rocketmq.client import Producer, Message

NAMESRV = os.environ.get('NAMESRV_ADDR', 'localhost:9876')
TOPIC = os.environ.get('TOPIC', 'BatchTopic')

producer = Producer('BatchProducerGroup')
producer.set_name_server_address(NAMESRV)
producer.start()

# 批量发送消息
messages = []
for i in range(10):
    msg = Message(TOPIC, f'Batch message {i}'.encode('utf-8'))
    messages.append(msg)

result = producer.send_batch(messages)
print(f"Batch send result: {result.status}")

producer.shutdown()
