-- order-pricing's total step: the priced lines (the map's output, one per
-- item, in order) and their total, in cents to stay exact.
return function(lines, ctx)
  local cents = 0
  for _, line in ipairs(lines) do
    cents = cents + math.floor(line.price * 100 + 0.5) * line.qty
  end
  return { order = ctx.steps.decode.id, lines = lines, total = cents / 100 }
end
