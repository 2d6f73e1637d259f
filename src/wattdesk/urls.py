"""URL routes: the web back office and portal (wattdesk.interfaces.web), the Django admin for master data,
language switching."""

from django.contrib import admin
from django.urls import include, path

from wattdesk.interfaces.api.api import api

admin.site.site_header = "WattDesk 用电营销管理"
admin.site.site_title = "WattDesk"
admin.site.index_title = "主数据管理"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", api.urls),
    path("", include("wattdesk.interfaces.web.urls")),
]
