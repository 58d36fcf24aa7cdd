from rest_framework.pagination import PageNumberPagination


class BoundedPageNumberPagination(PageNumberPagination):
    """Page numbers with a client-chosen size, never more than 200 rows."""

    page_size_query_param = "page_size"
    max_page_size = 200
