-- Routes an incoming ticket by its "kind" and files it in a queue. One
-- script serves every step of triage.json: the "route" step picks the next
-- step by returning its name as a second value; each queue step labels the
-- ticket and jumps to "publish", past the other queues.
local queues = {
  bug = { queue = "engineering", sla_hours = 24 },
  billing = { queue = "finance", sla_hours = 48 },
  question = { queue = "support", sla_hours = 72 },
}

return function(input, ctx)
  if ctx.step == "route" then
    local next_step = queues[input.kind] and input.kind or "other"
    ctx.log("info", "ticket %s (%s) goes to %s", input.id,
      tostring(input.kind), next_step)
    return input, next_step
  end

  local q = queues[ctx.step] or { queue = "triage", sla_hours = 168 }
  local sla = q.sla_hours
  if input.severity == "high" then sla = sla // 4 end
  return {
    id = input.id,
    title = input.title,
    kind = input.kind,
    queue = q.queue,
    sla_hours = sla,
    routed_by = ctx.step,
  }, "publish"
end
