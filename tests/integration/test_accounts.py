#!/usr/bin/python3
"""Accounts over HTTP: register, login (and its rate limits), logout, me,
PATCH me, password change, user lookup, error format."""

import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ConfabTestCase, Server, USER_ID_RE, main, now_ms, poll, unique)  # noqa: E402


class RegisterTest(ConfabTestCase):

    def test_register_returns_201_and_user(self):
        name = unique()
        resp = self.api("POST", "/api/v1/register",
                        {"username": name, "password": "correct horse", "display_name": "Ann Example"})
        body = self.assert_status(resp, 201)
        user = body["user"]
        self.assertRegex(user["id"], USER_ID_RE)
        self.assertEqual(user["username"], name)
        self.assertEqual(user["display_name"], "Ann Example")
        text = repr(body)
        self.assertNotIn("correct horse", text, "the password must never be echoed")
        self.assertNotIn("password", user)

    def test_register_without_display_name(self):
        name = unique()
        body = self.assert_status(
            self.api("POST", "/api/v1/register", {"username": name, "password": "12345678"}), 201)
        self.assertEqual(body["user"]["username"], name)
        self.assertIsInstance(body["user"]["display_name"], str)

    def test_user_ids_differ(self):
        _, _, a = self.register()
        _, _, b = self.register()
        self.assertNotEqual(a["id"], b["id"])

    def test_username_validation(self):
        bad = ["ab", "a" * 33, "Abc", "ab c", "ab!c", "", "\u00e9mile", "abc/def", "abc@x",
               "ab\u0000c", " abc"]
        for name in bad:
            with self.subTest(username=name):
                self.assert_error(self.api("POST", "/api/v1/register",
                                           {"username": name, "password": "12345678"}),
                                  400, "invalid_request")
        for name in (123, None, ["abc"]):
            with self.subTest(username=name):
                self.assert_error(self.api("POST", "/api/v1/register",
                                           {"username": name, "password": "12345678"}),
                                  400, "invalid_request")
        self.assert_error(self.api("POST", "/api/v1/register", {"password": "12345678"}),
                          400, "invalid_request")
        # the rejected names were not created
        self.assert_error(self.api("GET", "/api/v1/users/ab!c", token=self.new_user().token),
                          404, "not_found")

    def test_username_edges_accepted(self):
        tail = uuid.uuid4().hex
        for name in ("x" + tail[:2], ("y" + tail)[:32], "a_b.c-" + tail[:6], "9" + tail[:5]):
            with self.subTest(username=name):
                body = self.assert_status(self.api("POST", "/api/v1/register",
                                                   {"username": name, "password": "12345678"}), 201)
                self.assertEqual(body["user"]["username"], name)

    def test_password_length(self):
        for pw in ("1234567", "x" * 257, ""):
            with self.subTest(length=len(pw)):
                self.assert_error(self.api("POST", "/api/v1/register",
                                           {"username": unique(), "password": pw}),
                                  400, "invalid_request")
        for pw in (12345678, None):
            with self.subTest(password=pw):
                self.assert_error(self.api("POST", "/api/v1/register",
                                           {"username": unique(), "password": pw}),
                                  400, "invalid_request")
        self.assert_error(self.api("POST", "/api/v1/register", {"username": unique()}),
                          400, "invalid_request")
        for pw in ("12345678", "p" * 256):
            with self.subTest(length=len(pw)):
                name = unique()
                self.assert_status(self.api("POST", "/api/v1/register",
                                            {"username": name, "password": pw}), 201)
                self.login(name, pw)

    def test_password_length_counts_characters(self):
        # 7 characters but 28 bytes: too short; 8 emoji: fine
        self.assert_error(self.api("POST", "/api/v1/register",
                                   {"username": unique(), "password": "\U0001F600" * 7}),
                          400, "invalid_request")
        name = unique()
        self.assert_status(self.api("POST", "/api/v1/register",
                                    {"username": name, "password": "\U0001F600" * 8}), 201)
        self.login(name, "\U0001F600" * 8)

    def test_username_taken(self):
        name, _, _ = self.register()
        err = self.assert_error(self.api("POST", "/api/v1/register",
                                         {"username": name, "password": "another-pass"}),
                                409, "username_taken")
        self.assertTrue(err["message"])

    def test_username_taken_keeps_first_password(self):
        name, pw, _ = self.register()
        self.assert_error(self.api("POST", "/api/v1/register",
                                   {"username": name, "password": "another-pass"}), 409, "username_taken")
        self.login(name, pw)
        self.assert_error(self.api("POST", "/api/v1/login",
                                   {"username": name, "password": "another-pass"}),
                          401, "invalid_credentials")

    def test_malformed_bodies(self):
        for raw in ("not json", "[1,2]", "\"str\"", "{\"username\":", ""):
            with self.subTest(raw=raw):
                self.assert_error(self.api("POST", "/api/v1/register", raw_body=raw),
                                  400, "invalid_request")

    def test_body_over_max_http_body_is_413(self):
        big = {"username": unique(), "password": "12345678", "pad": "x" * (1024 * 1024 + 10)}
        self.assert_error(self.api("POST", "/api/v1/register", big), 413, "too_large")
        self.assert_healthy()


class LoginTest(ConfabTestCase):

    def test_login_returns_token_expiry_user(self):
        name, pw, user = self.register(display_name="Bo")
        before = now_ms()
        body = self.login(name, pw)
        self.assertIsInstance(body["token"], str)
        self.assertGreater(len(body["token"]), 10)
        self.assertIsInstance(body["expires_at"], int)
        # default --token-ttl-s is 7 days
        ttl = 604800 * 1000
        self.assertGreaterEqual(body["expires_at"], before + ttl - 60000)
        self.assertLessEqual(body["expires_at"], now_ms() + ttl + 60000)
        self.assertEqual(body["user"]["id"], user["id"])
        self.assertEqual(body["user"]["username"], name)
        self.assertEqual(body["user"]["display_name"], "Bo")

    def test_two_logins_give_two_working_tokens(self):
        name, pw, _ = self.register()
        t1 = self.login(name, pw)["token"]
        t2 = self.login(name, pw)["token"]
        self.assertNotEqual(t1, t2)
        for t in (t1, t2):
            body = self.assert_status(self.api("GET", "/api/v1/me", token=t), 200)
            self.assertEqual(body["user"]["username"], name)

    def test_wrong_password_and_unknown_user(self):
        name, pw, _ = self.register()
        e1 = self.assert_error(self.api("POST", "/api/v1/login",
                                        {"username": name, "password": pw + "x"}),
                               401, "invalid_credentials")
        e2 = self.assert_error(self.api("POST", "/api/v1/login",
                                        {"username": unique("nobody"), "password": pw}),
                               401, "invalid_credentials")
        self.assertNotIn("token", e1)
        self.assertNotIn("token", e2)

    def test_login_bad_requests(self):
        name, pw, _ = self.register()
        for body in ({"username": name}, {"password": pw}, {"username": name, "password": 5},
                     {"username": ["x"], "password": pw}):
            with self.subTest(body=body):
                self.assert_error(self.api("POST", "/api/v1/login", body), 400, "invalid_request")
        self.assert_error(self.api("POST", "/api/v1/login", raw_body="{"), 400, "invalid_request")

    def test_me(self):
        u = self.new_user(display_name="Me Myself")
        body = self.assert_status(self.api("GET", "/api/v1/me", token=u.token), 200)
        self.assertEqual(body["user"]["id"], u.id)
        self.assertEqual(body["user"]["username"], u.username)
        self.assertEqual(body["user"]["display_name"], "Me Myself")

    def test_unauthenticated_calls(self):
        calls = [("GET", "/api/v1/me"), ("PATCH", "/api/v1/me"), ("POST", "/api/v1/me/password"),
                 ("POST", "/api/v1/logout"), ("GET", "/api/v1/rooms"), ("POST", "/api/v1/rooms"),
                 ("GET", "/api/v1/rooms/public"), ("POST", "/api/v1/dm"),
                 ("GET", "/api/v1/users/whoever")]
        for method, path in calls:
            for token in (None, "garbage", ""):
                with self.subTest(method=method, path=path, token=token):
                    body = {} if method in ("POST", "PATCH") else None
                    self.assert_error(self.api(method, path, body, token=token), 401, "unauthorized")
        # a malformed Authorization header
        self.assert_error(self.api("GET", "/api/v1/me", headers={"Authorization": "Basic abc"}),
                          401, "unauthorized")

    def test_tampered_token_rejected(self):
        u = self.new_user()
        t = u.token
        # change one character well inside the token (the last character of
        # a base64 text may carry unused bits, so it is left alone)
        for pos in (len(t) // 2, len(t) - 8, 4):
            if t[pos] == ".":
                pos += 1
            flipped = t[:pos] + ("A" if t[pos] != "A" else "B") + t[pos + 1:]
            with self.subTest(position=pos):
                self.assert_error(self.api("GET", "/api/v1/me", token=flipped), 401, "unauthorized")
        self.assert_error(self.api("GET", "/api/v1/me", token=t[:-8]), 401, "unauthorized")
        self.assert_error(self.api("GET", "/api/v1/me", token=t + "x"), 401, "unauthorized")
        self.assert_status(self.api("GET", "/api/v1/me", token=t), 200)

    def test_token_of_other_secret_rejected(self):
        # a token signed by another node with another secret is worthless here
        other = Server().start()
        try:
            name = unique()
            self.assert_status(other.http("POST", "/api/v1/register", {"username": name, "password": "12345678"}), 201)
            st, _, body = other.http("POST", "/api/v1/login", {"username": name, "password": "12345678"})
            self.assertEqual(st, 200, body)
        finally:
            other.stop()
        self.assert_error(self.api("GET", "/api/v1/me", token=body["token"]), 401, "unauthorized")

    def test_logout(self):
        u = self.new_user()
        other = self.login(u.username, u.password)["token"]
        st, _, body = self.api("POST", "/api/v1/logout", token=u.token)
        self.assertEqual(st, 204, body)
        self.assertIsNone(body)
        self.assert_error(self.api("GET", "/api/v1/me", token=u.token), 401, "unauthorized")
        self.assert_error(self.api("GET", "/api/v1/rooms", token=u.token), 401, "unauthorized")
        # the user's other token is unaffected
        self.assert_status(self.api("GET", "/api/v1/me", token=other), 200)
        # WebSocket auth with the dead token: closed with 4401
        ws = self.connect()
        ws.send_obj({"op": "auth", "id": 1, "token": u.token})
        self.assertEqual(ws.expect_close(), 4401)
        self.assertFalse([f for f in ws.frames if f.get("op") == "ok"], ws.frames)
        # a second logout with the dead token is 401
        self.assert_error(self.api("POST", "/api/v1/logout", token=u.token), 401, "unauthorized")

    def test_logout_does_not_close_other_tokens_ws(self):
        u = self.new_user()
        other = self.login(u.username, u.password)["token"]
        ws = self.connect(other)
        self.assert_status(self.api("POST", "/api/v1/logout", token=u.token), 204)
        self.assertEqual(ws.ok("ping"), {})


class ProfileTest(ConfabTestCase):

    def test_patch_me(self):
        u = self.new_user(display_name="Old")
        body = self.assert_status(self.api("PATCH", "/api/v1/me",
                                           {"display_name": "New Name \U0001F642",
                                            "status_text": "at lunch"}, token=u.token), 200)
        self.assertEqual(body["user"]["display_name"], "New Name \U0001F642")
        self.assertEqual(body["user"]["status_text"], "at lunch")
        self.assertEqual(body["user"]["username"], u.username)
        me = self.assert_status(self.api("GET", "/api/v1/me", token=u.token), 200)["user"]
        self.assertEqual(me["display_name"], "New Name \U0001F642")
        self.assertEqual(me["status_text"], "at lunch")
        # only given fields change
        body = self.assert_status(self.api("PATCH", "/api/v1/me", {"status_text": "back"},
                                           token=u.token), 200)
        self.assertEqual(body["user"]["display_name"], "New Name \U0001F642")
        self.assertEqual(body["user"]["status_text"], "back")
        # others see it
        v = self.new_user()
        seen = self.assert_status(self.api("GET", "/api/v1/users/" + u.username, token=v.token), 200)
        self.assertEqual(seen["user"]["display_name"], "New Name \U0001F642")
        self.assertEqual(seen["user"]["status_text"], "back")

    def test_patch_me_limits(self):
        u = self.new_user(display_name="Keep")
        ok = self.assert_status(self.api("PATCH", "/api/v1/me",
                                         {"display_name": "d" * 64, "status_text": "s" * 140},
                                         token=u.token), 200)
        self.assertEqual(ok["user"]["display_name"], "d" * 64)
        self.assertEqual(ok["user"]["status_text"], "s" * 140)
        ok = self.assert_status(self.api("PATCH", "/api/v1/me", {"display_name": "\U0001F600" * 64},
                                         token=u.token), 200)
        self.assertEqual(ok["user"]["display_name"], "\U0001F600" * 64)
        for body in ({"display_name": ""}, {"display_name": "d" * 65}, {"status_text": "s" * 141},
                     {"display_name": 5}, {"status_text": ["x"]}, {"display_name": "\U0001F600" * 65}):
            with self.subTest(body={k: (v if not isinstance(v, str) else "%d chars" % len(v))
                                    for k, v in body.items()}):
                self.assert_error(self.api("PATCH", "/api/v1/me", body, token=u.token),
                                  400, "invalid_request")
        self.assert_error(self.api("PATCH", "/api/v1/me", raw_body="[]", token=u.token),
                          400, "invalid_request")
        me = self.assert_status(self.api("GET", "/api/v1/me", token=u.token), 200)["user"]
        self.assertEqual(me["display_name"], "\U0001F600" * 64, "a refused PATCH changed the profile")
        self.assertEqual(me["status_text"], "s" * 140)

    def test_user_lookup(self):
        u = self.new_user(display_name="Looked Up")
        v = self.new_user()
        body = self.assert_status(self.api("GET", "/api/v1/users/" + u.username, token=v.token), 200)
        self.assertEqual(body["user"]["id"], u.id)
        self.assertEqual(body["user"]["username"], u.username)
        self.assertEqual(body["user"]["display_name"], "Looked Up")
        self.assertNotIn("password", repr(body))
        self.assertEqual(body["presence"]["status"], "offline")
        self.connect(u.token)
        # presence may be recorded just after the auth reply: poll with a deadline
        poll(lambda: self.assert_status(self.api("GET", "/api/v1/users/" + u.username,
                                                 token=v.token), 200)["presence"]["status"] == "online",
             "user lookup shows the user online while a session is open")

    def test_unknown_user_is_404(self):
        v = self.new_user()
        self.assert_error(self.api("GET", "/api/v1/users/" + unique("ghost"), token=v.token),
                          404, "not_found")


class PasswordChangeTest(ConfabTestCase):

    def test_password_change(self):
        u = self.new_user()
        other = self.login(u.username, u.password)["token"]
        new_pw = "new-" + uuid.uuid4().hex[:10]
        st, _, body = self.api("POST", "/api/v1/me/password",
                               {"old_password": u.password, "new_password": new_pw}, token=u.token)
        self.assertEqual(st, 204, body)
        # the token of the other login is revoked, the caller's keeps working
        self.assert_error(self.api("GET", "/api/v1/me", token=other), 401, "unauthorized")
        self.assert_status(self.api("GET", "/api/v1/me", token=u.token), 200)
        ws = self.connect()
        ws.send_obj({"op": "auth", "id": 1, "token": other})
        self.assertEqual(ws.expect_close(), 4401)
        # old password fails, new one works
        self.assert_error(self.api("POST", "/api/v1/login",
                                   {"username": u.username, "password": u.password}),
                          401, "invalid_credentials")
        self.login(u.username, new_pw)

    def test_password_change_refusals(self):
        u = self.new_user()
        # wrong old password
        self.assert_error(self.api("POST", "/api/v1/me/password",
                                   {"old_password": u.password + "x", "new_password": "whatever-123"},
                                   token=u.token), 403, "forbidden")
        # new password too short / too long / wrong type / missing
        for req in ({"old_password": u.password, "new_password": "short"},
                    {"old_password": u.password, "new_password": "x" * 257},
                    {"old_password": u.password, "new_password": 12345678},
                    {"old_password": u.password}):
            with self.subTest(req=repr(req)[:80]):
                self.assert_error(self.api("POST", "/api/v1/me/password", req, token=u.token),
                                  400, "invalid_request")
        # nothing changed
        self.login(u.username, u.password)
        self.assert_error(self.api("POST", "/api/v1/login",
                                   {"username": u.username, "password": "whatever-123"}),
                          401, "invalid_credentials")
        self.assert_status(self.api("GET", "/api/v1/me", token=u.token), 200)


class RoutingTest(ConfabTestCase):

    def test_healthz(self):
        st, hdrs, body = self.api("GET", "/healthz")
        self.assertEqual(st, 200)
        self.assertIn("json", hdrs.get("content-type", ""))
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["node"], self.server.node)

    def test_unknown_path_is_404(self):
        u = self.new_user()
        self.assert_error(self.api("GET", "/api/v1/nope", token=u.token), 404, "not_found")
        self.assert_error(self.api("GET", "/api/v2/me", token=u.token), 404, "not_found")

    def test_wrong_method_is_405(self):
        u = self.new_user()
        self.assert_error(self.api("DELETE", "/api/v1/me", token=u.token), 405, "invalid_request")
        self.assert_error(self.api("GET", "/api/v1/login"), 405, "invalid_request")
        self.assert_error(self.api("PUT", "/api/v1/register", {}), 405, "invalid_request")


class LoginUserLimitTest(ConfabTestCase):
    server_args = ("--login-user-failures", "3")

    def test_failures_per_username_lock_that_username(self):
        name, pw, _ = self.register()
        other, other_pw, _ = self.register()
        for i in range(3):
            with self.subTest(attempt=i + 1):
                self.assert_error(self.api("POST", "/api/v1/login",
                                           {"username": name, "password": "wrong-pass"}),
                                  401, "invalid_credentials")
        resp = self.api("POST", "/api/v1/login", {"username": name, "password": "wrong-pass"})
        err = self.assert_error(resp, 429, "rate_limited")
        self.assertIsInstance(err.get("retry_after_ms"), int, err)
        self.assertGreater(err["retry_after_ms"], 0)
        # window default is 15 min
        self.assertLessEqual(err["retry_after_ms"], 900 * 1000)
        ra = resp[1].get("retry-after")
        self.assertIsNotNone(ra, "429 without a Retry-After header")
        self.assertGreaterEqual(int(ra), 1)
        # locked even with the right password: no oracle for a guesser
        self.assert_error(self.api("POST", "/api/v1/login", {"username": name, "password": pw}),
                          429, "rate_limited")
        # another username from the same address is not affected
        self.login(other, other_pw)

    def test_successes_do_not_count_as_failures(self):
        name, pw, _ = self.register()
        for _ in range(5):
            self.login(name, pw)
        for _ in range(2):
            self.assert_error(self.api("POST", "/api/v1/login", {"username": name, "password": "nope-nope"}),
                              401, "invalid_credentials")
        self.login(name, pw)


class LoginAddressLimitTest(ConfabTestCase):
    server_args = ("--login-ip-attempts", "5", "--login-user-failures", "100")

    def test_attempts_per_address(self):
        a, apw, _ = self.register()
        b, bpw, _ = self.register()
        # any mix of successes and failures counts
        self.login(a, apw)
        self.assert_error(self.api("POST", "/api/v1/login", {"username": a, "password": "bad-password"}),
                          401, "invalid_credentials")
        self.login(b, bpw)
        self.assert_error(self.api("POST", "/api/v1/login", {"username": unique(), "password": "xxxxxxxx"}),
                          401, "invalid_credentials")
        self.login(a, apw)
        # the sixth attempt from 127.0.0.1 within the window, whatever the username
        for name, pw in ((b, bpw), (a, apw)):
            with self.subTest(username=name):
                resp = self.api("POST", "/api/v1/login", {"username": name, "password": pw})
                err = self.assert_error(resp, 429, "rate_limited")
                self.assertIsInstance(err.get("retry_after_ms"), int, err)
                self.assertGreater(err["retry_after_ms"], 0)
                self.assertLessEqual(err["retry_after_ms"], 60 * 1000)
                self.assertIn("retry-after", resp[1])
        # registration and other calls are not login attempts
        self.register()
        self.assert_healthy()


class RegistrationDeadlineTest(ConfabTestCase):
    """The registration hasher runs at SCHED_IDLE: on a core something else
    keeps busy it starves. The registration must then answer 503 with
    retry_after_ms and store nothing (a later retry of the same name gets
    201), never a gateway timeout for an account that appears later."""

    def pin(self, cpus):
        for tid in os.listdir("/proc/%d/task" % self.server.proc.pid):
            try:
                os.sched_setaffinity(int(tid), cpus)
            except OSError:
                pass

    def test_starved_registration_is_503_and_stores_nothing(self):
        everywhere = os.sched_getaffinity(0)
        cpu = min(everywhere)
        name, pw = unique(), "pw-" + uuid.uuid4().hex[:12]
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
        try:
            self.pin({cpu})
            resp = self.api("POST", "/api/v1/register", {"username": name, "password": pw}, timeout=30)
            err = self.assert_error(resp, 503, "unavailable")
            self.assertIsInstance(err.get("retry_after_ms"), int, err)
            self.assertGreater(err["retry_after_ms"], 0)
        finally:
            busy.kill()
            busy.wait()
            self.pin(everywhere)
        self.assert_error(self.api("POST", "/api/v1/login", {"username": name, "password": pw}),
                          401, "invalid_credentials")
        resp = self.api("POST", "/api/v1/register", {"username": name, "password": pw})
        self.assertEqual(resp[0], 201, resp)
        self.login(name, pw)


if __name__ == "__main__":
    main()
