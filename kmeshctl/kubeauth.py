"""A kubeconfig user's auth-provider and a cluster's proxy-url, checked as kubectl checks
them before the client library uses them (kmeshctl.kube.check_context_entries): the
library crashes on a removed provider (gcp), sends no credentials for an unknown one
(azure), and cannot tell a bad id-token from a file that is not UTF-8. Each check gives
(problem, fix), ("", "") when there is none; kube raises them in its kinds of error."""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import os
import re
import shlex
import shutil
import time
from typing import Any, Optional

from kmeshctl.params import bounded, shown

# The auth-provider plugins kubectl (client-go) dropped in 1.26: the exec plugin that replaces each
# and the command that writes a user of it, run with the kubeconfig it is to change ({env}).
REMOVED_PROVIDERS = {
    "gcp": ("gke-gcloud-auth-plugin", "install it (`gcloud components install gke-gcloud-auth-plugin`) and write "
            "the user anew: `{env}gcloud container clusters get-credentials CLUSTER`"),
    "azure": ("kubelogin", "convert the user: `{env}kubelogin convert-kubeconfig -l azurecli`"),
}
OTHER_CONTEXT = "or pass --context NAME of another context"
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*\Z")


def auth_provider_problem(name: str, user: dict, owner: str, kubeconfig: Optional[str]) -> tuple[str, str]:
    """Bad input in the auth-provider of ``user`` (named ``name``; ``owner``: `user U in
    kubeconfig F, context C`; ``kubeconfig``: the --kubeconfig typed, kept in the fix's
    command, None when none was): one removed from kubectl (gcp, azure), one it never had,
    an oidc one without its issuer, client id or id-token, or whose id-token is not a JWT;
    one next to an exec plugin (kubectl allows one of them)."""
    provider = user.get("auth-provider")
    if provider is None:
        return "", ""
    if not isinstance(provider, dict):
        return f"{owner}: auth-provider is {shape(provider)}, not a mapping (name: oidc ...)", \
            f"fix the user in the kubeconfig, {OTHER_CONTEXT}"
    kind = provider.get("name")
    if isinstance(kind, str) and kind in REMOVED_PROVIDERS:
        plugin, how = REMOVED_PROVIDERS[kind]
        env = f"KUBECONFIG={shlex.quote(kubeconfig)} " if kubeconfig else ""
        return f"the {kind} auth plugin has been removed ({owner}); use {plugin} (an exec credential plugin)", \
            f"{how.format(env=env)}, {OTHER_CONTEXT}"
    if kind != "oidc":
        named = f"auth-provider {shown(kind)}" if isinstance(kind, str) and kind else "an auth-provider without a name"
        return f"{owner}: {named} is not one kubectl has (its only one is oidc)", \
            f"use an exec credential plugin (`exec:` in the user), {OTHER_CONTEXT}"
    if user.get("exec") is not None:
        return f"{owner}: auth-provider and exec are both set (kubectl allows one)", \
            f"remove one of them from the user, {OTHER_CONTEXT}"
    return _oidc_problem(provider.get("config"), owner, set_credentials(name, kubeconfig))


def _oidc_problem(config: Any, owner: str, command: str) -> tuple[str, str]:
    """``command``: `kubectl config set-credentials U ...`, which sets what is missing."""
    if not isinstance(config, dict):
        return f"{owner}: auth-provider oidc has no config (idp-issuer-url, client-id, id-token)", \
            f"set them: `{command} --auth-provider-arg=idp-issuer-url=URL --auth-provider-arg=" \
            f"client-id=ID`, {OTHER_CONTEXT}"
    for key, value in (("idp-issuer-url", "URL"), ("client-id", "ID")):
        if not config.get(key) or not isinstance(config[key], str):
            return f"{owner}: auth-provider oidc has no {key}", \
                f"set it: `{command} --auth-provider-arg={key}={value}`, {OTHER_CONTEXT}"
    data, file = config.get("idp-certificate-authority-data"), config.get("idp-certificate-authority")
    from kmeshctl.kube import base64_problem  # kube imports this module

    if data and base64_problem(data):
        return f"{owner}: idp-certificate-authority-data of auth-provider oidc is not valid base64", \
            f"paste the issuer's CA certificate as base64 (`base64 -w0 ca.crt`), {OTHER_CONTEXT}"
    if file and not data and not os.path.isfile(str(file)):
        return f"{owner}: idp-certificate-authority {shown(file)} of auth-provider oidc is not a file", \
            f"fix the path in the kubeconfig, {OTHER_CONTEXT}"
    token = config.get("id-token")
    if not token and not config.get("refresh-token"):  # with one, kubectl gets the first id-token
        return f"{owner}: auth-provider oidc has no id-token (and no refresh-token to get one)", \
            f"log in to {shown(config['idp-issuer-url'])} and set the id-token it gives: `{command} " \
            f"--auth-provider-arg=id-token=TOKEN`, {OTHER_CONTEXT}"
    why = jwt_problem(token) if token else ""
    if why:
        return f"id-token of {owner} is not a JWT ({why})", \
            f"log in to {shown(config['idp-issuer-url'])} again and set the id-token it gives: `{command} " \
            f"--auth-provider-arg=id-token=TOKEN`, {OTHER_CONTEXT}"
    return "", ""


def oidc_refresh_problem(name: str, user: dict, owner: str, kubeconfig: Optional[str]) -> tuple[str, str]:
    """A failure (not bad input): ``user``'s oidc id-token has expired and there is no
    refresh-token to get a new one with (kubectl's `No valid id-token, and cannot refresh
    without refresh-token`). Call after auth_provider_problem found nothing."""
    provider = user.get("auth-provider")
    config = provider.get("config") if isinstance(provider, dict) and provider.get("name") == "oidc" else None
    if not isinstance(config, dict) or config.get("refresh-token") or not jwt_expired(str(config["id-token"])):
        return "", ""
    return f"the oidc id-token of {owner} has expired and there is no refresh-token to renew it", \
        f"log in to {shown(config['idp-issuer-url'])} again and set the id-token it gives: " \
        f"`{set_credentials(name, kubeconfig)} --auth-provider-arg=id-token=TOKEN`, {OTHER_CONTEXT}"


def jwt_problem(token: Any) -> str:
    """Why ``token`` is not a JWT whose claims the client can read ("" when it is one):
    three base64url parts, the middle one a JSON object whose exp, if any, is a number."""
    parts = str(token).split(".")
    if len(parts) != 3:
        return f"{len(parts)} part{'s' if len(parts) != 1 else ''}, not 3 separated by dots"
    if not all(_BASE64URL.match(part) for part in parts):
        return "a part is not base64url (A-Z a-z 0-9 - _)"
    claims = _claims(parts[1])
    if claims is None:
        return "its middle part is not base64url of a JSON object"
    expiry = claims.get("exp")
    if expiry is not None and (isinstance(expiry, bool) or not isinstance(expiry, (int, float))):
        return "its exp claim is not a number"
    return ""


def needs_renewal(config: dict) -> bool:
    """The oidc auth-provider ``config`` has no id-token, or one whose exp has passed."""
    return not config.get("id-token") or jwt_expired(str(config["id-token"]))


def jwt_expired(token: str) -> bool:
    """A JWT (see jwt_problem) whose exp has passed (False for what is not a JWT)."""
    parts = token.split(".")
    claims = (_claims(parts[1]) if len(parts) == 3 else None) or {}
    return isinstance(claims.get("exp"), (int, float)) and claims["exp"] <= time.time()


def _claims(part: str) -> Optional[dict]:
    if len(part) % 4 == 1:
        return None  # no base64 text is this long
    try:
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("utf-8"))
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return claims if isinstance(claims, dict) else None


def set_credentials(user: str, kubeconfig: Optional[str]) -> str:
    """`kubectl config set-credentials U [--kubeconfig F]` (one file: kubectl's flag takes no list)."""
    where = ["--kubeconfig", kubeconfig] if kubeconfig and os.pathsep not in kubeconfig else []
    return shlex.join(["kubectl", "config", "set-credentials", user, *where])


def login_conflict(user: dict, owner: str) -> tuple[str, str]:
    """A token (or tokenFile) and a username/password both in ``user``: kubectl refuses
    the user before connecting (client-go: more than one authentication method)."""
    token = next((k for k in ("token", "tokenFile") if user.get(k)), "")
    basic = next((k for k in ("username", "password") if user.get(k)), "")
    if token and basic:
        return f"{owner}: both {token} and {basic} are set (kubectl takes one way to log in: a token or a " \
            "username/password)", f"remove one of them from the user, {OTHER_CONTEXT}"
    return "", ""


def client_certificate_problem(name: str, user: dict, owner: str, kubeconfig: Optional[str]) -> tuple[str, str]:
    """The client certificate of ``user`` as kubectl loads it before connecting: its key
    given too, both PEM, the key the certificate's. Its files exist and its *-data is
    base64 (checked before, kmeshctl.kube.check_context_entries)."""
    cert = "client-certificate-data" if user.get("client-certificate-data") else \
        "client-certificate" if user.get("client-certificate") else ""
    key = "client-key-data" if user.get("client-key-data") else "client-key" if user.get("client-key") else ""
    if not cert:
        return "", ""  # a key alone is not used (as kubectl)
    if not key:
        return f"{owner}: {cert} is set but no client-key-data or client-key (a client certificate needs its " \
            "private key)", f"add it: `{set_credentials(name, kubeconfig)} --client-key=KEY.pem --embed-certs`, " \
            f"{OTHER_CONTEXT}"
    texts = {k: _pem_text(user, k) for k in (cert, key)}
    if "-----BEGIN CERTIFICATE-----" not in texts[cert] or not _loads_as_certificate(texts[cert]):
        return f"{owner}: {_field(user, cert)} is not a PEM certificate (-----BEGIN CERTIFICATE----- ...) that loads", \
            _pem_fix(cert, "client.crt", "client certificate")
    encrypted = _encrypted_key(texts[key])
    if encrypted or not re.search(r"-----BEGIN (RSA |EC )?PRIVATE KEY-----", texts[key]):
        return f"{owner}: {_field(user, key)} is " + ("an encrypted private key (kubectl takes one without a "
                                                       "passphrase)" if encrypted else
                                                       "not a PEM private key (-----BEGIN PRIVATE KEY----- ...)"), \
            _pem_fix(key, "client.key", "private key")
    if not pair_loads(texts[cert], texts[key]):
        return f"{owner}: {_field(user, key)} is not the private key of its {_field(user, cert)}", \
            f"give the key the certificate was made for, {OTHER_CONTEXT}"
    return "", ""


def _encrypted_key(text: str) -> bool:
    """A PEM key with a passphrase: PKCS#8's ENCRYPTED PRIVATE KEY, or OpenSSL's legacy
    `Proc-Type: 4,ENCRYPTED` header inside an RSA/EC PRIVATE KEY block."""
    return "-----BEGIN ENCRYPTED PRIVATE KEY-----" in text or "Proc-Type: 4,ENCRYPTED" in text


def _field(user: dict, key: str) -> str:
    """`client-key-data`, or `client-key /path/k.pem`: a field as messages name it."""
    return key if key.endswith("-data") else f"{key} {user[key]}"


def _pem_fix(key: str, example: str, what: str) -> str:
    if key.endswith("-data"):
        return f"paste the base64 of the {what}'s PEM file (`base64 -w0 {example}`), {OTHER_CONTEXT}"
    return f"point it at the {what}'s PEM file, {OTHER_CONTEXT}"


def _pem_text(user: dict, key: str) -> str:
    """The text of a client-certificate/-key field: its base64 decoded, or its file's start."""
    if key.endswith("-data"):
        return base64.b64decode(str(user[key])).decode("utf-8", "replace")
    try:
        with open(str(user[key]), encoding="utf-8", errors="replace") as handle:
            return handle.read(1 << 20)
    except OSError:
        return ""


def _loads_as_certificate(text: str) -> bool:
    import ssl

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=text)
    except (ssl.SSLError, ValueError):
        return False
    return True


def pair_loads(cert: str, key: str) -> bool:
    """The TLS layer takes ``cert`` with ``key`` (PEM texts; it reads them from files only)."""
    import ssl
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kmeshctl-") as directory:
        paths = [os.path.join(directory, name) for name in ("cert.pem", "key.pem")]
        for path, text in zip(paths, (cert, key)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as handle:
                handle.write(text)
        try:  # a password given: an encrypted key fails here instead of asking at the terminal
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(paths[0], paths[1], password="")
        except (ssl.SSLError, ValueError):
            return False
    return True


# The ExecCredential versions kubectl runs a plugin with (v1alpha1 was removed in Kubernetes 1.24).
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


def exec_problem(plugin: dict, owner: str) -> tuple[str, str]:
    """Bad input in the exec plugin of a user (kubectl refuses it before running it): no
    command, no apiVersion or one kubectl does not speak, an env entry without a name."""
    fix = f"fix the user's exec in the kubeconfig, {OTHER_CONTEXT}"
    command = plugin.get("command")
    if not command or not isinstance(command, str):
        return f"{owner}: exec has no command", fix
    version = plugin.get("apiVersion")
    use = f"set its apiVersion: {EXEC_API_VERSIONS[0]} (or {EXEC_API_VERSIONS[1]}, whichever the plugin prints), " \
        f"{OTHER_CONTEXT}"
    if not version:
        return f"{owner}: exec has no apiVersion (kubectl needs the ExecCredential version the plugin speaks)", use
    if version not in EXEC_API_VERSIONS:
        removed = " (removed in Kubernetes 1.24)" if version == "client.authentication.k8s.io/v1alpha1" else ""
        return f"{owner}: exec apiVersion {shown(str(version))} is not one kubectl runs a plugin with{removed}", use
    env = plugin.get("env") or []
    if not isinstance(env, list) or not all(isinstance(e, dict) and e.get("name") for e in env):
        return f"{owner}: an entry of exec env has no name (it is a list of name: ..., value: ...)", fix
    if not all(isinstance(e.get(k), (str, type(None))) for e in env for k in ("name", "value")):
        return f"{owner}: an entry of exec env has a name or value that is not text (quote it: value: \"5\")", fix
    return "", ""


def exec_command_problem(plugin: dict, owner: str) -> tuple[str, str]:
    """Why the exec plugin's command cannot be started, ("", "") when it can. A path (with
    a /) that is a directory or a file without execute permission is there: client-go runs
    it and says `permission denied`, so that is said, with the fix (chmod +x, a file); a
    path that does not exist, or a name on no directory of PATH (which, as client-go's
    lookup, takes only executable files), is client-go's `executable C not found`, with
    the plugin's installHint when it has one."""
    command = str(plugin["command"])
    if "/" in command:
        if os.path.isdir(command):
            return f"exec: {command} is a directory, not an executable (permission denied) ({owner})", \
                f"point the user's exec command at the credential plugin's file, {OTHER_CONTEXT}"
        if os.path.isfile(command):
            if os.access(command, os.X_OK):
                return "", ""
            return f"exec: {command} is not executable (permission denied) ({owner})", \
                f"make it executable: `chmod +x {shlex.quote(command)}`, {OTHER_CONTEXT}"
    elif shutil.which(command):
        return "", ""
    hint = install_hint(plugin)
    return f"exec: executable {command} not found ({owner})", \
        f"{hint.rstrip('.')} (its installHint), {OTHER_CONTEXT}" if hint else \
        f"install the credential plugin or put it on PATH, {OTHER_CONTEXT}"


def install_hint(plugin: dict) -> str:
    """The exec plugin's installHint on one line (bounded), "" when it has none: how
    kubeconfigs of EKS, GKE, AKS say which plugin to install."""
    hint = plugin.get("installHint")
    return bounded(" ".join(hint.split()), 300) if isinstance(hint, str) else ""


# The proxy schemes kubectl takes in a cluster's proxy-url (client-go: http, https, socks5).
PROXY_SCHEMES = ("http", "https", "socks5")


def proxy_problem(cluster: dict, owner: str) -> tuple[str, str]:
    """Bad input in the cluster's proxy-url: not text, a scheme kubectl does not take, no host."""
    from urllib.parse import urlsplit

    proxy = cluster.get("proxy-url")
    if proxy is None or proxy == "":
        return "", ""
    fix = f"write proxy-url as http://HOST:PORT, https://HOST:PORT or socks5://HOST:PORT, {OTHER_CONTEXT}"
    if not isinstance(proxy, str):
        return f"{owner}: proxy-url is {shape(proxy)}, not a URL", fix
    try:
        parts = urlsplit(proxy)
    except ValueError:
        return f"{owner}: proxy-url {shown(proxy)} is not a URL", fix
    try:
        port = parts.port
    except ValueError:
        return f"{owner}: proxy-url {shown(proxy)} has a port that is not a number from 1 to 65535", fix
    if parts.scheme.lower() not in PROXY_SCHEMES:
        what = f"scheme {shown(parts.scheme)}" if parts.scheme and "://" in proxy else "no scheme"
        return f"{owner}: proxy-url {shown(proxy)} has {what} (kubectl takes http, https, socks5)", fix
    if not parts.hostname or port == 0:
        return f"{owner}: proxy-url {shown(proxy)} has no host" if not parts.hostname else \
            f"{owner}: proxy-url {shown(proxy)} has port 0", fix
    if parts.scheme.lower() == "socks5" and importlib.util.find_spec("socks") is None:
        return f"{owner}: proxy-url {shown(proxy)} needs the PySocks package, which is not installed", \
            f"install it (`pip install PySocks`), {OTHER_CONTEXT}"
    return "", ""


def shape(value: Any) -> str:
    """What a kubeconfig value is, in words (`a mapping`, `a number`), never its repr."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "text" if isinstance(value, str) else "not text"


class IssuerFailed(Exception):
    """The OIDC issuer did not renew an id-token: ``reached`` False when it was not reached
    (``reason`` in kubectl's transport words), True when it answered without a token."""

    def __init__(self, reason: str, reached: bool) -> None:
        super().__init__(reason)
        self.reason, self.reached = reason, reached


def renewed_id_token(config: dict, timeout: Optional[float]) -> dict:
    """The oidc auth-provider ``config`` with its expired id-token renewed as kubectl renews
    it: the issuer's discovery document names its token endpoint, which is given the
    refresh-token (and the client's id and secret); the new tokens replace the old (in
    memory: the kubeconfig file is not written). Each request ends within ``timeout``
    seconds (None: no limit); the issuer's CA is idp-certificate-authority(-data), else
    the system's. IssuerFailed when it is not reached or gives no id_token."""
    import urllib3

    # No retry (kubectl makes none): a retry would also log urllib3's "Retrying" warning.
    retries = urllib3.Retry(total=None, connect=0, read=0, other=0, status=0, redirect=3)
    pool = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout), retries=retries, **_issuer_tls(config))
    issuer = str(config["idp-issuer-url"]).rstrip("/")
    discovery = _issuer_json(pool, "GET", f"{issuer}/.well-known/openid-configuration", {}, {})
    endpoint = discovery.get("token_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise IssuerFailed("its discovery document names no token_endpoint", reached=True)
    form = {"grant_type": "refresh_token", "refresh_token": str(config["refresh-token"])}
    headers = {}
    if config.get("client-secret"):
        headers = urllib3.make_headers(basic_auth=f"{config['client-id']}:{config['client-secret']}")
    else:
        form["client_id"] = str(config["client-id"])
    answer = _issuer_json(pool, "POST", endpoint, form, headers)
    if not isinstance(answer.get("id_token"), str) or jwt_problem(answer["id_token"]):
        raise IssuerFailed("its token endpoint gave no id_token that is a JWT", reached=True)
    return {**config, "id-token": answer["id_token"], "refresh-token": answer.get("refresh_token") or
            config["refresh-token"]}


def _issuer_tls(config: dict) -> dict:
    """The CA of the issuer's TLS, as urllib3 arguments (none: the system's)."""
    if config.get("idp-certificate-authority-data"):
        return {"ca_cert_data": base64.b64decode(str(config["idp-certificate-authority-data"])).decode("utf-8",
                                                                                                      "replace")}
    if config.get("idp-certificate-authority"):
        return {"ca_certs": str(config["idp-certificate-authority"])}
    return {}


def _issuer_json(pool: Any, method: str, url: str, form: dict, headers: dict) -> dict:
    """One request to the issuer, its JSON object answer; IssuerFailed otherwise."""
    import urllib3

    from kmeshctl.kube import body_line, transport_reason

    try:
        if method == "GET":
            response = pool.request("GET", url, headers={"Accept": "application/json"})
        else:
            response = pool.request_encode_body("POST", url, fields=form, encode_multipart=False,
                                                headers={**headers, "Accept": "application/json"})
    except (urllib3.exceptions.HTTPError, ValueError) as err:  # ValueError: a URL urllib3 cannot use
        raise IssuerFailed(transport_reason(err), reached=False) from err
    try:
        data = json.loads(response.data)
    except ValueError:
        data = None
    if response.status != 200 or not isinstance(data, dict):
        said = body_line(response.data) or "no message"
        raise IssuerFailed(f"{method} {url} was answered HTTP {response.status}: {said}", reached=True)
    return data


# --- field types ------------------------------------------------------------------------
# kubectl decodes a kubeconfig into typed fields and refuses the file when a value is not of its
# field's type (`insecure-skip-tls-verify: "false"`: cannot unmarshal string into ... bool); the
# client library takes any value, and a quoted "false" is then true. The fields kmeshctl reads,
# by type (server, proxy-url and auth-provider have checks of their own).
TEXT, FLAG, TEXTS, EXTRA, MAPPING = "text", "true/false", "a list of text", "a mapping of lists of text", "a mapping"
CLUSTER_TYPES = {"certificate-authority": TEXT, "certificate-authority-data": TEXT, "insecure-skip-tls-verify": FLAG,
                 "tls-server-name": TEXT, "disable-compression": FLAG}
CONTEXT_TYPES = {"cluster": TEXT, "user": TEXT, "namespace": TEXT}
USER_TYPES = {"token": TEXT, "tokenFile": TEXT, "username": TEXT, "password": TEXT, "client-certificate": TEXT,
              "client-key": TEXT, "client-certificate-data": TEXT, "client-key-data": TEXT, "as": TEXT, "as-uid": TEXT,
              "as-groups": TEXTS, "as-user-extra": EXTRA, "exec": MAPPING}
EXEC_TYPES = {"command": TEXT, "args": TEXTS, "apiVersion": TEXT, "installHint": TEXT, "provideClusterInfo": FLAG,
              "interactiveMode": TEXT}
# How each type is written, for the fix
_WRITTEN = {TEXT: "text", FLAG: "true or false (unquoted)", TEXTS: "a list: [\"a\", \"b\"]",
            EXTRA: "a mapping of lists: {KEY: [\"a\"]}", MAPPING: "a mapping"}
# Values shown in the message (never a secret's): a flag's or a mode's
_SHOWN_FIELDS = ("insecure-skip-tls-verify", "disable-compression", "provideClusterInfo", "interactiveMode")


def _of_type(value: Any, kind: str) -> bool:
    if kind == FLAG:
        return isinstance(value, bool)
    if kind == TEXT:
        return isinstance(value, str)
    if kind == TEXTS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == EXTRA:
        return isinstance(value, dict) and all(isinstance(k, str) and (v is None or _of_type(v, TEXTS))
                                               for k, v in value.items())
    return isinstance(value, dict)


def type_problem(body: dict, types: dict[str, str], owner: str) -> tuple[str, str]:
    """The first field of ``body`` (a cluster, context, user or exec entry; ``types``: its
    fields' types above) whose value is not of its type, as kubectl refuses the file:
    (problem, fix), ("", "") when there is none. A field left out or empty (null) is fine."""
    for key, kind in types.items():
        value = body.get(key)
        if value is None or _of_type(value, kind):
            continue
        what = shape(value)
        if key in _SHOWN_FIELDS and isinstance(value, (str, int, float)):
            what = f"the {'quoted text' if isinstance(value, str) else 'number'} {shown(bounded(str(value), 40))}"
        return f"{owner}: {key} is {what}, not {kind}", \
            f"write {key} as {_WRITTEN[kind]} in the kubeconfig, {OTHER_CONTEXT}"
    return "", ""


# The exec plugin's interactiveMode values kubectl takes; client.authentication.k8s.io/v1 requires one.
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")


def interactive_mode_problem(plugin: dict, owner: str) -> tuple[str, str]:
    """The exec plugin's interactiveMode as kubectl checks it: one of INTERACTIVE_MODES, and
    set when its apiVersion is client.authentication.k8s.io/v1 (v1beta1: IfAvailable)."""
    mode = plugin.get("interactiveMode")
    fix = f"set the exec's interactiveMode: Never (or IfAvailable, Always: the plugin may prompt), {OTHER_CONTEXT}"
    if mode in (None, "") and plugin.get("apiVersion") == EXEC_API_VERSIONS[0]:
        return f"{owner}: exec has no interactiveMode (kubectl requires it with apiVersion {EXEC_API_VERSIONS[0]})", fix
    if mode not in (None, "") and mode not in INTERACTIVE_MODES:
        return f"{owner}: exec interactiveMode {shown(bounded(str(mode), 40))} is not one kubectl takes (Never, " \
            "IfAvailable, Always)", fix
    return "", ""


def header_problem(value: str) -> str:
    """Why ``value`` cannot be an HTTP header's value ("" when it can): a line break or
    another control character (Go's net/http refuses to send it: kubectl's `invalid header
    field value for "Authorization"`)."""
    bad = next((c for c in value if (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7f or ord(c) > 0xff), "")
    if not bad:
        return ""
    if ord(bad) > 0xff:
        return "it has a character that is not ASCII"
    return "it has a line break" if bad in "\r\n" else "it has a control character"


_HEADER_KEY_SAFE = "!#$&'*+^|"  # with letters, digits and _.-~: left as they are in a header name


def impersonation_headers(user: dict) -> list[tuple[str, str]]:
    """The headers kubectl sends for the user's as, as-uid, as-groups and as-user-extra
    (type-checked before): Impersonate-User, -Uid, one Impersonate-Group per group, one
    Impersonate-Extra-KEY per value (the key escaped as client-go escapes it)."""
    from urllib.parse import quote

    headers = [("Impersonate-User", user["as"])] if user.get("as") else []
    headers += [("Impersonate-Uid", user["as-uid"])] if user.get("as-uid") else []
    headers += [("Impersonate-Group", group) for group in user.get("as-groups") or []]
    for key, values in (user.get("as-user-extra") or {}).items():
        headers += [(f"Impersonate-Extra-{quote(key, safe=_HEADER_KEY_SAFE)}", value) for value in values or []]
    return headers


def impersonation_problem(user: dict, owner: str) -> tuple[str, str]:
    """as-uid, as-groups or as-user-extra without as (kubectl: requesting them without
    impersonating a user is refused); a value that cannot be a header's."""
    if not user.get("as") and (user.get("as-uid") or user.get("as-groups") or user.get("as-user-extra")):
        return f"{owner}: as-uid, as-groups or as-user-extra is set without as (the user to impersonate)", \
            f"set as: USER in the user, or remove them, {OTHER_CONTEXT}"
    for name, value in impersonation_headers(user):
        why = header_problem(value)
        if why:
            return f"{owner}: a value of as, as-uid, as-groups or as-user-extra cannot be sent as the header " \
                f"{name} ({why})", f"fix the user's impersonation fields in the kubeconfig, {OTHER_CONTEXT}"
    return "", ""
