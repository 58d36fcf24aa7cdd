"""SSO routes, mounted under /sso/ (404 while SSO is unconfigured)."""

from django.urls import path

from sso import views

app_name = "sso"

urlpatterns = [
    path("login/", views.LoginStartView.as_view(), name="login"),
    path("callback/", views.LoginCallbackView.as_view(), name="callback"),
    path("reauth/", views.ReauthStartView.as_view(), name="reauth"),
    path("reauth/callback/", views.ReauthCallbackView.as_view(), name="reauth-callback"),
]
