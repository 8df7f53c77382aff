from rest_framework.permissions import DjangoModelPermissions


class ModelPermissionsWithReads(DjangoModelPermissions):
    """Django's model permissions for the API, as the admin applies them: reading a model needs
    `view_<model>` (or `change_<model>`), writing needs `change_<model>`. `is_staff` alone grants
    nothing; a superuser has every permission. A view over no model (the API root) only needs a
    signed-in user: it shows no data."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if getattr(view, "queryset", None) is None and not hasattr(view, "get_queryset"):
            return True
        if request.method in ("GET", "HEAD", "OPTIONS") and self._may_change(request, view):
            return True  # change implies view, as in the admin
        return super().has_permission(request, view)

    def _may_change(self, request, view) -> bool:
        model = self._queryset(view).model
        return request.user.has_perm(f"{model._meta.app_label}.change_{model._meta.model_name}")
