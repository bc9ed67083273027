from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from routing.selectors import agent_queues


@login_required
def workspace(request):
    return render(request, "chat/workspace.html", {"queues": agent_queues(user=request.user)})
