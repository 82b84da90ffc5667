-- deliver.lua: a parent's outcome from another partition reaches its
-- waiting child here (an outbox entry "D QUEUE CHILD PARENT" of the
-- parent's partition, or a link.lua that found the parent finished), as a
-- parent of the child's own partition would hand it over (release): the
-- child records it and enters its queue's index once no parent is pending
-- or this one dooms it. A delivery is applied once: a child that holds
-- the parent's outcome already, or no longer waits, is left alone.
--
-- KEYS[1] child hash          {ns}:t:CHILD
-- KEYS[2] its queue's index   {ns}:due:QUEUE
-- KEYS[3] waiting set         {ns}:waiting
-- ARGV[1] child id
-- ARGV[2] child's queue
-- ARGV[3] parent id
-- ARGV[4] parent's final state
-- ARGV[5] parent's outcome (JSON, as the prelude's function outcome writes it)
-- ARGV[6] announce channel prefix ({ns}:announce:)
-- The release time is Redis's clock.
-- Returns 1 when the child took the outcome, else 0.
local nowms = clock()
if hand_over(KEYS[1], KEYS[2], KEYS[3], ARGV[6], ARGV[2], ARGV[1], ARGV[3], ARGV[4], ARGV[5], nowms, true) then return 1 end
return 0
