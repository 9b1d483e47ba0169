"""What the repair loop knows: import names, fixtures, command-line options, markers and ini
options mapped to the distributions that provide them (data tables), and Python 2 modules."""

from __future__ import annotations

# import name -> distribution, where they differ (pkg_resources left setuptools in 82.0: an older
# plugin that imports it needs a setuptools before that, not the newest one the base already has)
MODULE_TO_DIST = {
    "yaml": "PyYAML", "attr": "attrs", "PIL": "Pillow", "cv2": "opencv-python-headless",
    "sklearn": "scikit-learn", "skimage": "scikit-image", "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil", "jwt": "PyJWT", "serial": "pyserial", "usb": "pyusb",
    "Crypto": "pycryptodome", "Cryptodome": "pycryptodomex", "OpenSSL": "pyOpenSSL",
    "magic": "python-magic", "dotenv": "python-dotenv", "google.protobuf": "protobuf",
    "zmq": "pyzmq", "git": "GitPython", "multipart": "python-multipart", "docx": "python-docx",
    "pptx": "python-pptx", "pkg_resources": "setuptools<82", "hamcrest": "PyHamcrest",
    "markdown": "Markdown", "jinja2": "Jinja2", "importlib_metadata": "importlib-metadata",
    "importlib_resources": "importlib-resources", "typing_extensions": "typing-extensions",
    "ruamel": "ruamel.yaml", "lxml": "lxml", "Levenshtein": "python-Levenshtein",
    "slugify": "python-slugify", "jose": "python-jose", "socks": "PySocks", "nacl": "PyNaCl",
    "gi": "PyGObject", "wx": "wxPython", "win32api": "pywin32", "sqlalchemy": "SQLAlchemy",
    "flask": "Flask", "werkzeug": "Werkzeug", "faker": "Faker", "freezegun": "freezegun",
    "mock": "mock", "nose": "nose", "toml": "toml", "tomli": "tomli", "tomli_w": "tomli-w",
    "setuptools_scm": "setuptools-scm", "pytest_asyncio": "pytest-asyncio", "trio": "trio",
    "xdist": "pytest-xdist", "pytest_mock": "pytest-mock", "hypothesis": "hypothesis",
    "testfixtures": "testfixtures", "responses": "responses", "requests_mock": "requests-mock",
    "httpretty": "httpretty", "vcr": "vcrpy", "pyfakefs": "pyfakefs", "dns": "dnspython",
    "Bio": "biopython", "MySQLdb": "mysqlclient", "psycopg2": "psycopg2-binary",
    "editdistance": "editdistance", "simplejson": "simplejson", "ujson": "ujson", "orjson": "orjson",
    "msgpack": "msgpack", "igraph": "python-igraph", "sphinx": "Sphinx", "docutils": "docutils",
    "pygments": "Pygments", "tz": "pytz", "pytz": "pytz", "six": "six", "packaging": "packaging",
    "numpy": "numpy", "pandas": "pandas", "scipy": "scipy", "matplotlib": "matplotlib",
    "typeguard": "typeguard", "pydantic": "pydantic", "click": "click", "rich": "rich",
    "syrupy": "syrupy", "pexpect": "pexpect", "ptyprocess": "ptyprocess", "execnet": "execnet",
    "py": "py", "atomicwrites": "atomicwrites", "sortedcontainers": "sortedcontainers",
    "tornado": "tornado", "twisted": "Twisted", "zope": "zope.interface", "aiohttp": "aiohttp",
    "anyio": "anyio", "sniffio": "sniffio", "httpx": "httpx", "respx": "respx",
    "pytest_httpserver": "pytest-httpserver", "pytest_benchmark": "pytest-benchmark",
    "pytest_lazyfixture": "pytest-lazy-fixture", "pytest_cases": "pytest-cases",
    "parameterized": "parameterized", "ddt": "ddt", "nose2": "nose2", "sure": "sure",
    "expects": "expects", "bson": "pymongo", "pytest_subtests": "pytest-subtests", "time_machine": "time-machine",
}
# fixture name -> plugin distribution
FIXTURE_TO_DIST = {
    "mocker": "pytest-mock", "class_mocker": "pytest-mock", "module_mocker": "pytest-mock",
    "session_mocker": "pytest-mock", "benchmark": "pytest-benchmark",
    "httpserver": "pytest-httpserver", "aiohttp_client": "pytest-aiohttp", "aiohttp_server": "pytest-aiohttp",
    "event_loop": "pytest-asyncio", "freezer": "pytest-freezer", "requests_mock": "requests-mock",
    "snapshot": "syrupy", "datadir": "pytest-datadir", "shared_datadir": "pytest-datadir",
    "httpx_mock": "pytest-httpx", "respx_mock": "respx", "subtests": "pytest-subtests", "fs": "pyfakefs",
    "loop": "pytest-aiohttp", "time_machine": "time-machine", "capture_logs": "structlog",
    "xprocess": "pytest-xprocess", "celery_app": "celery", "django_db_setup": "pytest-django",
    "db": "pytest-django", "client": "pytest-django", "rf": "pytest-django", "settings": "pytest-django",
    "nursery": "pytest-trio", "autojump_clock": "pytest-trio", "anyio_backend": "anyio",
    "mock_env": "pytest-mock-resources", "vcr": "pytest-recording", "vcr_cassette": "pytest-vcr",
    "lazy_fixture": "pytest-lazy-fixture", "faker": "Faker", "caplog_json": "pytest-structlog",
    "monkeysession": "pytest-monkeysession", "tmp_file": "pytest-tmp-files", "socket_enabled": "pytest-socket",
    "local_server": "pytest-localserver", "httpbin": "pytest-httpbin", "testdir": "pytest<8",
}
# command-line option prefix -> plugin distribution
OPTION_TO_DIST = {
    "--cov": "pytest-cov", "--no-cov": "pytest-cov", "--timeout": "pytest-timeout",
    "-n": "pytest-xdist", "--numprocesses": "pytest-xdist", "--dist": "pytest-xdist",
    "--benchmark": "pytest-benchmark", "--reruns": "pytest-rerunfailures", "--only-rerun": "pytest-rerunfailures",
    "--randomly": "pytest-randomly", "-p randomly": "pytest-randomly", "--asyncio-mode": "pytest-asyncio",
    "--snapshot": "syrupy", "--html": "pytest-html", "--self-contained-html": "pytest-html",
    "--hypothesis": "hypothesis", "--doctest-plus": "pytest-doctestplus", "--doctest-rst": "pytest-doctestplus",
    "--remote-data": "pytest-remotedata", "--mpl": "pytest-mpl", "--memray": "pytest-memray",
    "--record-mode": "pytest-recording", "--block-network": "pytest-recording",
    "--disable-socket": "pytest-socket", "--allow-hosts": "pytest-socket", "--force-sugar": "pytest-sugar",
    "--instafail": "pytest-instafail", "--durations-min": "pytest>=7", "--color": "pytest",
    "--ds": "pytest-django", "--reuse-db": "pytest-django", "--nomigrations": "pytest-django",
    "--env": "pytest-env", "--testmon": "pytest-testmon", "--mypy": None, "--flake8": None,
    "--black": None, "--isort": None, "--pylint": None, "--pycodestyle": None, "--ruff": None,
    "--pep8": None, "--codestyle": None, "--doctest-cython": None, "--typeguard-packages": "typeguard",
}
MARKER_TO_DIST = {
    "asyncio": "pytest-asyncio", "trio": "pytest-trio", "anyio": "anyio", "benchmark": "pytest-benchmark",
    "django_db": "pytest-django", "timeout": "pytest-timeout", "flaky": "flaky", "vcr": "pytest-recording",
    "freeze_time": "pytest-freezer", "httpx_mock": "pytest-httpx", "mpl_image_compare": "pytest-mpl",
    "remote_data": "pytest-remotedata", "order": "pytest-order", "dependency": "pytest-dependency",
    "repeat": "pytest-repeat", "forked": "pytest-forked", "lazy_fixture": "pytest-lazy-fixture",
}
INI_TO_DIST = {"asyncio_mode": "pytest-asyncio", "timeout": "pytest-timeout", "env": "pytest-env",
               "DJANGO_SETTINGS_MODULE": "pytest-django", "mock_use_standalone_module": "pytest-mock",
               "flake8-max-line-length": None, "mypy": None, "asyncio_default_fixture_loop_scope":
               "pytest-asyncio>=0.24", "xfail_strict": None, "required_plugins": None}


PY2_STDLIB = {"UserDict", "StringIO", "cStringIO", "urllib2", "urlparse", "ConfigParser", "Queue",
              "__builtin__", "cPickle", "httplib", "HTMLParser", "thread", "commands", "exceptions", "sets",
              "md5", "sha", "copy_reg", "Tkinter", "cookielib", "SocketServer", "xmlrpclib", "htmlentitydefs",
              "repr", "dummy_thread", "UserList", "UserString", "future_builtins", "imp", "asynchat", "asyncore"}


def dist_for_module(module: str) -> str:
    """The distribution that provides an importable module (the import name when not known)."""
    top = module.split(".")[0]
    return MODULE_TO_DIST.get(module) or MODULE_TO_DIST.get(top) or top.replace("_", "-")
