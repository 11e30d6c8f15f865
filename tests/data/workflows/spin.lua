return function(input) return input, "report" end
