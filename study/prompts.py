"""The steering study's prompt sets: neutral requests, one set to choose on and held-out sets to judge.

Each held-out set was written before the verdict it judges had been seen; no two sets share a prompt
(tests/test_study.py).
"""

CHOOSE_PROMPTS = ["Tell me about your weekend.", "What did you have for breakfast?", "Describe the room you are in.",
                  "How do you usually spend your mornings?", "Tell me about a walk you took.",
                  "What is the weather like today?", "Describe your favourite street.",
                  "What did you do yesterday afternoon?"]
REPORT_PROMPTS = ["Tell me about your last trip to the shops.", "What are you doing this evening?",
                  "Describe a typical Tuesday.", "How was your commute today?", "Tell me about your neighbourhood.",
                  "What did you cook last night?", "Describe the view from your window.",
                  "What happened at work this week?"]
# More prompts for the held-out check alone: the chosen strengths run on REPORT_PROMPTS and these
# (32 prompts × 3 seeds = 96 pairs), so a verdict does not rest on 24 pairs' ±10 points.
CHECK_PROMPTS = ["Tell me about the last film you watched.", "What is in your fridge?", "Describe your front door.",
                 "How do you spend your lunch break?", "Tell me about your favourite chair.",
                 "What did you do last Sunday?", "Describe the bus stop near you.", "How do you do your laundry?",
                 "Tell me about the town hall.", "What did you buy at the market?", "Describe your garden.",
                 "How do you plan your week?", "Tell me about the train station.", "What did you wear yesterday?",
                 "Describe a corner of the library.", "How do you make tea?", "Tell me about your bicycle.",
                 "What is on the menu at the café?", "Describe the car park.", "How do you tidy your desk?",
                 "Tell me about the post office.", "What did you read this morning?", "Describe your hallway.",
                 "How do you water the plants?"]
# A second held-out set, written after the first verdict (on REPORT_PROMPTS + CHECK_PROMPTS) had
# been seen: a set-up chosen after that verdict is judged on prompts nobody has looked at.
SECOND_CHECK_PROMPTS = ["Tell me about the bakery on your street.", "What is in your wardrobe?",
                        "Describe the stairs in your building.", "How do you pack for a short trip?",
                        "Tell me about the clock in your living room.", "What did you do last Thursday?",
                        "Describe the pavement outside your house.", "How do you sort your post?",
                        "Tell me about your local swimming pool.", "What did you have for dinner on Monday?",
                        "Describe your bathroom.", "How do you choose a birthday card?",
                        "Tell me about the petrol station nearby.", "What is on your bookshelf?",
                        "Describe the lift in an office building.", "How do you boil an egg?",
                        "Tell me about the umbrella you use.", "What did you see from the bus today?",
                        "Describe a supermarket checkout.", "How do you iron a shirt?",
                        "Tell me about the bench in the square.", "What did you write on your shopping list?",
                        "Describe your kitchen table.", "How do you set an alarm clock?",
                        "Tell me about the hardware shop.", "What did you hear on the radio this morning?",
                        "Describe the landing outside your flat.", "How do you fold a towel?",
                        "Tell me about the village hall.", "What did you pack for lunch today?",
                        "Describe the roundabout near you.", "How do you clean your windows?"]
# A third held-out set, written after the second verdict had been seen (before anything ran on
# it), for set-ups or reply lengths chosen after that verdict.
THIRD_CHECK_PROMPTS = ["Tell me about the newsagent on the corner.", "What is in your kitchen drawer?",
                       "Describe the gate to your garden.", "How do you wash up after dinner?",
                       "Tell me about the rug in your hallway.", "What did you do last Wednesday?",
                       "Describe the doorbell of your building.", "How do you charge your phone?",
                       "Tell me about the launderette in town.", "What did you have for lunch on Friday?",
                       "Describe your bedside table.", "How do you wrap a parcel?",
                       "Tell me about the chemist's near you.", "What is on your windowsill?",
                       "Describe the waiting room at the dentist.", "How do you make toast?",
                       "Tell me about the kettle you use.", "What did you see from the train window?",
                       "Describe a ticket machine at a station.", "How do you sharpen a pencil?",
                       "Tell me about the fountain in the park.", "What did you put in your bag this morning?",
                       "Describe your coat hooks.", "How do you read a bus timetable?",
                       "Tell me about the butcher's shop.", "What did you watch on television last night?",
                       "Describe the car wash on the high street.", "How do you peel a potato?",
                       "Tell me about the recycling bins outside.", "What did you fetch from the shed?",
                       "Describe the pedestrian crossing near you.", "How do you hang up a picture?"]
# A fourth held-out set, written after the third verdict had been seen (before anything ran on it),
# for a cell chosen on the 120 choosing pairs after that verdict.
FOURTH_CHECK_PROMPTS = ["Tell me about the ironmonger's on the high street.", "What is in your glove compartment?",
                        "Describe the porch of your house.", "How do you defrost a freezer?",
                        "Tell me about the doormat at your front door.", "What did you do last Tuesday evening?",
                        "Describe the noticeboard in a community centre.", "How do you change a light bulb?",
                        "Tell me about the ticket office at the bus station.", "What did you have for tea on Sunday?",
                        "Describe your chest of drawers.", "How do you address an envelope?",
                        "Tell me about the key cutter's in the arcade.", "What is on your fridge door?",
                        "Describe the reception desk at a doctor's surgery.", "How do you make a sandwich?",
                        "Tell me about the toaster in your kitchen.", "What did you see from the car park roof?",
                        "Describe a vending machine in a corridor.", "How do you clean a pair of shoes?",
                        "Tell me about the clock tower in the square.", "What did you put in the recycling this week?",
                        "Describe your umbrella stand.", "How do you top up a travel card?",
                        "Tell me about the fishmonger's at the market.", "What did you listen to while cooking?",
                        "Describe the multi-storey car park in town.", "How do you grate cheese?",
                        "Tell me about the phone box on the green.", "What did you take out of the loft?",
                        "Describe the level crossing outside the village.", "How do you put up a shelf?"]
# More choosing prompts, written after the second verdict: on 24 pairs two cells near the 2× line
# cannot be told apart (SmolLM2's "sad" read 1.98× at 0.5 and 2.10× at 0.45 on the same prompts),
# so a cell meant for a held-out verdict is first chosen on these as well (120 choosing pairs).
MORE_CHOOSE_PROMPTS = ["Tell me about the greengrocer's in your town.", "What is in your pencil case?",
                       "Describe the letterbox on your street.", "How do you make a salad?",
                       "Tell me about the lamp on your desk.", "What did you do last Saturday morning?",
                       "Describe the entrance of the museum.", "How do you lay the table for dinner?",
                       "Tell me about the tram stop in the centre.", "What did you have for supper on Saturday?",
                       "Describe your living-room curtains.", "How do you brew coffee?",
                       "Tell me about the florist's near the station.", "What is on your notice board?",
                       "Describe the queue at the bank.", "How do you mend a puncture?",
                       "Tell me about the taxi rank outside the station.", "What did you notice on your way to work?",
                       "Describe a parking meter.", "How do you sew on a button?",
                       "Tell me about the stationery shop.", "What did you pick up from the dry cleaner's?",
                       "Describe the cupboard under your stairs.", "How do you check the tyre pressure on a car?",
                       "Tell me about the allotments near you.", "What did you leave on the kitchen counter?",
                       "Describe the lobby of a hotel.", "How do you make porridge?",
                       "Tell me about the cinema in your town.", "What did you order at the sandwich bar?",
                       "Describe the loading bay behind a shop.", "How do you plan a train journey?"]
# The held-out sets a verdict can use (study/steering_study.py --held); each model's study says which.
HELD_SETS = {"first": REPORT_PROMPTS + CHECK_PROMPTS, "second": SECOND_CHECK_PROMPTS, "third": THIRD_CHECK_PROMPTS,
             "fourth": FOURTH_CHECK_PROMPTS}
HELD_SET_LABELS = {"first": "report and check prompts",
                   "second": "prompts of the second held-out set (written after the first verdict had been seen)",
                   "third": "prompts of the third held-out set (written after the second verdict had been seen)",
                   "fourth": "prompts of the fourth held-out set (written after the third verdict had been seen)"}
