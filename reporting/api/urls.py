"""/api/v1/ routes."""

from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("runs", views.PipelineRunViewSet, basename="run")
router.register("candidates", views.CandidateViewSet, basename="candidate")
router.register("orders", views.OrderViewSet, basename="order")
router.register("trades", views.TradeViewSet, basename="trade")
router.register("positions", views.PositionViewSet, basename="position")
router.register("reports", views.DailyReportViewSet, basename="report")
router.register("reconciliation-runs", views.ReconciliationRunViewSet, basename="reconciliation-run")
router.register("discrepancies", views.DiscrepancyViewSet, basename="discrepancy")

app_name = "api"
urlpatterns = router.urls
