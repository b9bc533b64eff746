# rocketmq_ordered.py
import os
from rocketmq.client import Producer, Message

NAMESRV = os.environ.get('NAMESRV_ADDR', 'localhost:9876')
TOPIC = os.environ.get('TOPIC', 'OrderTopic')

producer = Producer('OrderedProducerGroup')
producer.set_name_server_address(NAMESRV)
producer.start()

# 发送顺序消息（同一订单的消息发送到同一队列）
for i in range(10):
    order_id = f'ORDER_{i % 3}'  # 3个订单
    msg = Message(
        TOPIC,
        f'Order {order_id} - Step {i}'.encode('utf-8')
    )
    msg.set_keys(order_id)  # 设置消息键
    result = producer.send_sync(msg, selector=order_id)  # 使用选择器保证顺序
    print(f"Sent: {result.msg_id}")

producer.shutdown()

# 消费顺序消息
from rocketmq.client import PushConsumer, ConsumeStatus

def on_message(msg):
    print(f"Received: {msg.body.decode('utf-8')}")
    return ConsumeStatus.CONSUME_SUCCESS

consumer = PushConsumer('OrderedConsumerGroup')
consumer.set_name_server_address(NAMESRV)
consumer.subscribe(TOPIC, '*')
consumer.register_message_listener(on_message)
consumer.start()
