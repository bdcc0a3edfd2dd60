"""The gate in front of the compliance team's pages that live in `companion` (complaints, notices):
compliance officers act, regulators read, everyone else is refused (CN-DAT-02, CN-GOV-06)."""
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from companion.complaints import may_handle_complaints, may_read_complaints


def compliance_gate(request, *, write: bool, may_write: Callable, may_read: Callable):
    """None when the request may go on, having set what the compliance layout shows
    (`request.can_edit`, `request.can_read_audit`); a redirect to sign in for anonymous visitors.
    Raises PermissionDenied for anyone without the role."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not (may_write if write else may_read)(request.user):
        raise PermissionDenied
    request.can_edit = may_write(request.user)
    request.can_read_audit = True  # compliance officers and regulators, the same two roles
    return None


def officer_gate(request, *, write: bool):
    """`compliance_gate` for pages compliance officers act on and regulators read (complaints, minor
    mode appeals, the minors' audit, impact assessments)."""
    return compliance_gate(request, write=write, may_write=may_handle_complaints, may_read=may_read_complaints)
