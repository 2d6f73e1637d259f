"""Web routes of the shell; each page module adds its own patterns here (one include line per module)."""

from django.urls import path

from wattdesk.interfaces.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("health/", views.health, name="health"),
]
