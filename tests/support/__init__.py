"""What the tests share, one subject per module. The fakes import no pytest: the benchmarks
in ``bench/`` use them too.

- ``server``: the HTTP server on 127.0.0.1 both fakes stand on;
- ``fakebotapi``: a fake Telegram Bot API, with scripted people in groups and private chats;
- ``fakespapi``: a fake Amazon Selling Partner API and Login with Amazon;
- ``clock``: the clock the tests move by hand;
- ``scenario``: a seller team in its group, the sample reports, what the desk says;
- ``desk``: the real desk, run against the fakes, and waiting until it is at rest;
- ``alerts``: the messages the desk sends into a group on its own;
- ``amazon_sync``: a desk that syncs with the fake Amazon.
"""
