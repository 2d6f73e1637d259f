"""Web routes of the shell; each page module adds its own patterns here (one include line per module)."""

from django.urls import include, path

from wattdesk.interfaces.web import views
from wattdesk.interfaces.web.pages import audit as audit_pages
from wattdesk.interfaces.web.pages import portal as portal_pages

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("health/", views.health, name="health"),
    path("portal/", include(portal_pages.urlpatterns)),
    path("audit/", audit_pages.audit_list, name="audit"),
    path("audit/export.csv", audit_pages.audit_export, name="audit_export"),
]
