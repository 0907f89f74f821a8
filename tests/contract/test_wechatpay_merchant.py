"""wechatpayv3 (PyPI, pinned in requirements.txt) plays the merchant against `shoukuan sim`.

The most-used Python WeChat Pay v3 SDK checks everything its own way: the certificate download
and decryption, the signature of every 2xx response (which it refuses unless
`Wechatpay-Signature-Type` is WECHATPAY2-SHA256-RSA2048), the callback's signature and its
AEAD_AES_256_GCM resource. If the simulator agrees with it, in certificate mode and in public-key
mode, the simulator speaks WeChat Pay v3 and not merely our own `core`'s reading of it.

Started by tests/tests/e2e/contract.rs with the simulator's base URL and the merchant's keys
(from `shoukuan keys dev`) in the environment.
"""

import json
import os
import queue
import threading
import time
import unittest
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import wechatpayv3.core
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3 import WeChatPay, WeChatPayType

SIM = os.environ["SIM_BASE"]
ENV = os.environ

# The SDK's gateway is a constant assigned in Core.__init__ (before the certificate download);
# a class-level property wins over that assignment and points every request at the simulator.
wechatpayv3.core.Core._gate_way = property(lambda self: SIM, lambda self, value: None)

RSA_TYPE = "WECHATPAY2-SHA256-RSA2048"


def control(path, body=None):
    """The simulator's control API (/sim/...): JSON in, JSON out."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        SIM + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class Receiver:
    """A merchant's notify_url: records each callback's headers and raw body, answers 204."""

    def __init__(self):
        self.calls = queue.Queue()
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                # Lower-case names, as ASGI frameworks hand them to the SDK.
                calls.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"

    def next_callback(self, event_type, timeout=20):
        """The next callback whose body names `event_type` (others are skipped)."""
        deadline = time.time() + timeout
        while True:
            headers, body = self.calls.get(timeout=max(0.1, deadline - time.time()))
            if json.loads(body).get("event_type") == event_type:
                return headers, body

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class MerchantFlow:
    """One Native payment from prepay to refund, with the SDK verifying every step."""

    sign_mode = None  # the simulator's sign mode: "certificate" or "public-key"

    def setUp(self):
        control("/sim/config", {"sign_mode": self.sign_mode})
        self.receiver = Receiver()

    def tearDown(self):
        self.receiver.close()

    def client(self, **keys):
        return WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=ENV["WECHATPAY_MCHID"],
            private_key=ENV["WECHATPAY_MCH_PRIVATE_KEY"],
            cert_serial_no=ENV["WECHATPAY_MCH_SERIAL"],
            appid=ENV["WECHATPAY_APPID"],
            apiv3_key=ENV["WECHATPAY_APIV3_KEY"],
            notify_url=self.receiver.url,
            **keys,
        )

    def test_native_prepay_query_callback_and_refund(self):
        wxpay = self.client(**self.client_keys())
        out_trade_no = f"contract{self.sign_mode[:4]}{time.time_ns() % 10**12}"

        code, text = wxpay.pay(
            description="契约测试",
            out_trade_no=out_trade_no,
            amount={"total": 1234},
            pay_type=WeChatPayType.NATIVE,
        )
        self.assertEqual(code, 200, text)
        self.assertTrue(json.loads(text)["code_url"].startswith("weixin://"), text)

        code, text = wxpay.query(out_trade_no=out_trade_no)
        self.assertEqual(code, 200, text)
        self.assertEqual(json.loads(text)["trade_state"], "NOTPAY", text)

        payer = control("/sim/payers", {"subscribed": False})["openid"]
        control("/sim/pay", {"out_trade_no": out_trade_no, "openid": payer})
        headers, body = self.receiver.next_callback("TRANSACTION.SUCCESS")
        self.assertEqual(headers.get("wechatpay-signature-type"), RSA_TYPE, headers)
        self.check_serial(headers["wechatpay-serial"])
        result = wxpay.callback(headers, body)
        self.assertIsNotNone(result, "the SDK refused the simulator's callback")
        paid = result["resource"]
        self.assertEqual(paid["out_trade_no"], out_trade_no)
        self.assertEqual(paid["trade_state"], "SUCCESS")
        self.assertEqual(paid["amount"]["total"], 1234)
        self.assertEqual(paid["payer"]["openid"], payer)
        self.assertEqual(paid["mchid"], ENV["WECHATPAY_MCHID"])
        # The SDK really checks: one altered byte and the same headers no longer verify.
        altered = body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCESZ")
        self.assertIsNone(wxpay.callback(headers, altered))

        code, text = wxpay.query(out_trade_no=out_trade_no)
        self.assertEqual(code, 200, text)
        queried = json.loads(text)
        self.assertEqual(queried["trade_state"], "SUCCESS", text)
        self.assertEqual(queried["transaction_id"], paid["transaction_id"])

        out_refund_no = f"R{out_trade_no}"
        code, text = wxpay.refund(
            out_refund_no=out_refund_no,
            amount={"refund": 234, "total": 1234, "currency": "CNY"},
            out_trade_no=out_trade_no,
            reason="契约测试退款",
        )
        self.assertEqual(code, 200, text)
        refund = json.loads(text)
        self.assertIn(refund["status"], ("PROCESSING", "SUCCESS"), text)
        self.assertEqual(refund["amount"]["refund"], 234, text)
        code, text = wxpay.query_refund(out_refund_no=out_refund_no)
        self.assertEqual(code, 200, text)
        self.assertEqual(json.loads(text)["out_refund_no"], out_refund_no, text)


class CertificateMode(MerchantFlow, unittest.TestCase):
    """Platform certificates: downloaded, decrypted and used by the SDK itself."""

    sign_mode = "certificate"

    def client_keys(self):
        return {}

    def check_serial(self, serial):
        self.assertNotEqual(serial, ENV["WECHATPAY_PUBLIC_KEY_ID"])

    def test_the_certificate_download_is_signed_by_the_certificate_it_carries(self):
        wxpay = self.client()
        certificates = wxpay._core._certificates
        self.assertEqual(len(certificates), 1, "the SDK decrypted no usable certificate")
        # The download itself is fetched unverified by the SDK; verify it now with its content.
        code, text = wxpay._core.request("/v3/certificates")
        self.assertEqual(code, 200, text)
        serial = json.loads(text)["data"][0]["serial_no"]
        self.assertEqual(int(serial, 16), certificates[0].serial_number)


class PublicKeyMode(MerchantFlow, unittest.TestCase):
    """The WeChat Pay public key (Wechatpay-Serial: PUB_KEY_ID_…), configured, never downloaded."""

    sign_mode = "public-key"

    def client_keys(self):
        return {
            "public_key": ENV["WECHATPAY_PUBLIC_KEY"],
            "public_key_id": ENV["WECHATPAY_PUBLIC_KEY_ID"],
        }

    def check_serial(self, serial):
        self.assertEqual(serial, ENV["WECHATPAY_PUBLIC_KEY_ID"])

    def test_a_response_under_another_public_key_is_refused(self):
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = stranger.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        wxpay = self.client(
            public_key=pem.decode(), public_key_id=ENV["WECHATPAY_PUBLIC_KEY_ID"]
        )
        with self.assertRaisesRegex(Exception, "failed to verify the signature"):
            wxpay.pay(
                description="契约测试",
                out_trade_no=f"contractstranger{time.time_ns() % 10**12}",
                amount={"total": 1},
                pay_type=WeChatPayType.NATIVE,
            )


if __name__ == "__main__":
    unittest.main(verbosity=2)
