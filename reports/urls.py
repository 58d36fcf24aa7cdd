"""The report pages, under /admin/reports/ (the admin's login and staff check)."""

from django.contrib import admin
from django.urls import path

from reports import admin_views

app_name = "reports"

urlpatterns = [
    path("report/", admin.site.admin_view(admin_views.report_view), name="report"),
    path("serving/", admin.site.admin_view(admin_views.serving_view), name="serving"),
]
