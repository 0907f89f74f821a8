"""wechatpy (PyPI, pinned in requirements.txt) plays the Official Account platform against the worker.

The platform's side of the message server protocol, done with wechatpy's own signer and
WXBizMsgCrypt implementation: the URL verification handshake, and safe-mode (AES) pushes whose
encrypted replies wechatpy must be able to check (MsgSignature) and decrypt (appid included).

Started by tests/tests/e2e/contract.rs with the worker's and the simulator's base URLs and the
Official Account settings the worker runs with in the environment.
"""

import json
import os
import re
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import WeChatSigner

WORKER = os.environ["WORKER_BASE"]
SIM = os.environ["SIM_BASE"]
TOKEN = os.environ["WECHAT_TOKEN"]
AES_KEY = os.environ["WECHAT_AES_KEY"]
APPID = os.environ["WECHAT_APPID"]


def url_signature(timestamp, nonce):
    signer = WeChatSigner()
    signer.add_data(TOKEN, timestamp, nonce)
    return signer.signature


def call(method, url, body=None):
    """(status, text) of one request; error statuses are answers too."""
    request = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": "text/xml"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def element(xml, name):
    match = re.search(rf"<{name}>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</{name}>", xml, re.S)
    return match.group(1) if match else None


class MessageServer(unittest.TestCase):
    def setUp(self):
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
        request = urllib.request.Request(
            SIM + "/sim/payers",
            data=json.dumps({"subscribed": True}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            self.openid = json.loads(response.read())["openid"]

    def test_url_verification_echoes_only_a_right_signature(self):
        timestamp, nonce, echostr = str(int(time.time())), "1462231", "8264927105"
        query = {"timestamp": timestamp, "nonce": nonce, "echostr": echostr}
        status, text = call(
            "GET",
            f"{WORKER}/wechat/mp?"
            + urllib.parse.urlencode({**query, "signature": url_signature(timestamp, nonce)}),
        )
        self.assertEqual((status, text), (200, echostr))
        status, _ = call(
            "GET",
            f"{WORKER}/wechat/mp?"
            + urllib.parse.urlencode({**query, "signature": url_signature(timestamp, "other")}),
        )
        self.assertEqual(status, 403)

    def push(self, xml, forge_msg_signature=False):
        """POSTs `xml` the way the platform does in safe mode; returns (status, reply)."""
        timestamp, nonce = str(int(time.time())), "5938501"
        envelope = self.crypto.encrypt_message(xml, nonce, timestamp)
        encrypt = element(envelope, "Encrypt")
        msg_signature = element(envelope, "MsgSignature")
        if forge_msg_signature:
            msg_signature = msg_signature[::-1]
        query = urllib.parse.urlencode(
            {
                "signature": url_signature(timestamp, nonce),
                "timestamp": timestamp,
                "nonce": nonce,
                "openid": self.openid,
                "encrypt_type": "aes",
                "msg_signature": msg_signature,
            }
        )
        body = (
            "<xml><ToUserName><![CDATA[gh_contract]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        )
        return call("POST", f"{WORKER}/wechat/mp?{query}", body.encode())

    def subscribe_event(self):
        return (
            "<xml><ToUserName><![CDATA[gh_contract]]></ToUserName>"
            f"<FromUserName><![CDATA[{self.openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
            "<EventKey><![CDATA[]]></EventKey></xml>"
        )

    def test_a_safe_mode_push_gets_a_reply_wechatpy_verifies_and_decrypts(self):
        status, reply = self.push(self.subscribe_event())
        self.assertEqual(status, 200, reply)
        self.assertIsNotNone(element(reply, "Encrypt"), f"the reply is not encrypted: {reply}")
        inner = self.crypto.decrypt_message(
            reply,
            element(reply, "MsgSignature"),
            element(reply, "TimeStamp"),
            element(reply, "Nonce"),
        )
        message = parse_message(inner)
        self.assertEqual(message.type, "text", inner)
        self.assertEqual(message.source, "gh_contract", inner)
        self.assertEqual(message.target, self.openid, inner)
        self.assertIn("感谢关注", message.content)
        # wechatpy refuses the same reply under a signature made for other content.
        with self.assertRaises(InvalidSignatureException):
            self.crypto.decrypt_message(
                reply,
                element(reply, "MsgSignature")[::-1],
                element(reply, "TimeStamp"),
                element(reply, "Nonce"),
            )

    def test_a_push_with_a_forged_msg_signature_is_refused(self):
        status, reply = self.push(self.subscribe_event(), forge_msg_signature=True)
        self.assertGreaterEqual(status, 400, reply)
        self.assertIsNone(element(reply, "Encrypt"), reply)


if __name__ == "__main__":
    unittest.main(verbosity=2)
