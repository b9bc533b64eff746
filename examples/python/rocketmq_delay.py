# rocketmq_delay.py
import os
from rocketmq.client import Producer, Message

NAMESRV = os.environ.get('NAMESRV_ADDR', 'localhost:9876')
TOPIC = os.environ.get('TOPIC', 'DelayTopic')

producer = Producer('DelayProducerGroup')
producer.set_name_server_address(NAMESRV)
producer.start()

# 发送延时消息（延时10秒）
msg = Message(TOPIC, 'Delayed message'.encode('utf-8'))
msg.set_delay_time_level(3)  # 延时级别3（约10秒）
result = producer.send_sync(msg)
print(f"Delayed message sent: {result.msg_id}")

producer.shutdown()
