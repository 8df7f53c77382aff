from rest_framework.permissions import SAFE_METHODS, BasePermission


class ReadOrStaffReview(BasePermission):
    """Any signed-in user reads; only staff write (and the views only allow review fields to be written)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_staff
