"""dingdan's tests: a package, so that they import their shared pieces as ``tests.support``."""
