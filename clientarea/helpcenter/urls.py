from django.urls import path

from clientarea.helpcenter import views

app_name = "helpcenter"

# Article slugs sit at the top level (/help/<slug>/); the fixed paths are in models.RESERVED_SLUGS.
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("category/<slug:slug>/", views.category, name="category"),
    path("tag/<slug:slug>/", views.tag, name="tag"),
    path("media/<path:name>", views.media, name="media"),
    path("<slug:slug>/", views.article, name="article"),
    path("<slug:slug>/vote/", views.vote, name="vote"),
    path("<slug:slug>/feedback/", views.feedback, name="feedback"),
]
