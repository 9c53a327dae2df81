"""The git endpoint: smart HTTP by ``git http-backend`` with token authentication, one repository
per app, and a ``pre-receive`` hook that turns a push of ``main``/``master`` into a build whose
output streams to the pusher; a failed build rejects the push. Over HTTPS too, with certificates
from a platform CA (:func:`ensure_certificates`)."""

from pyroku.git._endpoint import GitEndpoint, is_git_path
from pyroku.git._exceptions import GitEndpointError, RepositoryError
from pyroku.git._receiver import Pusher, PushReceiver
from pyroku.git._repos import DEPLOY_BRANCHES, Repositories
from pyroku.git._tls import (
    TLS_CA_PATH,
    TLS_INFO_PATH,
    CertificateError,
    TlsFiles,
    ensure_certificates,
    is_tls_path,
    operator_certificates,
    tls_info_app,
)

__all__ = [
    "DEPLOY_BRANCHES",
    "TLS_CA_PATH",
    "TLS_INFO_PATH",
    "CertificateError",
    "GitEndpoint",
    "GitEndpointError",
    "PushReceiver",
    "Pusher",
    "Repositories",
    "RepositoryError",
    "TlsFiles",
    "ensure_certificates",
    "is_git_path",
    "is_tls_path",
    "operator_certificates",
    "tls_info_app",
]
